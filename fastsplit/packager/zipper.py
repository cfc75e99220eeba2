"""Deterministic zip files.

The same inputs give the same bytes on any day and from any checkout path: entries are
sorted, every timestamp is ``SOURCE_DATE_EPOCH`` (default 1980-01-01, the earliest a zip
can hold), permissions are 0644 (0755 when the source is executable), the creator
system is Unix and the compression level is fixed.
"""

from __future__ import annotations

import fnmatch
import hashlib
import io
import os
import shutil
import struct
import time
import zipfile
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from fastsplit.packager.deps import PackageError

ZIP_EPOCH = 315532800  # 1980-01-01T00:00:00Z
CONTENT_DATE_SPAN = 20 * 365 * 24 * 3600  # content-derived dates fall in 1980-1999
COMPRESSION = zipfile.ZIP_DEFLATED
LEVEL = 9

# Never shipped, wherever they are: bytecode is compiled for the build machine's Python.
ALWAYS_EXCLUDED = ("__pycache__/*", "*/__pycache__/*", "*.pyc", "*.pyo")
# Never shipped from the application's own files.
APP_EXCLUDED = (
    ".git/*", "*/.git/*", ".env*", "*/.env*", ".venv/*", "*/.venv/*", "venv/*",
    "build/*", "dist/*", "tests/*", "*/tests/*", "test_*.py",
)  # fmt: skip


@dataclass(frozen=True)
class Entry:
    """A file to put in a zip: where it comes from and its name inside."""

    source: Path
    name: str


def source_date_epoch() -> int | None:
    value = os.environ.get("SOURCE_DATE_EPOCH")
    if value is None or not value.strip():
        return None
    try:
        return max(int(value), ZIP_EPOCH)
    except ValueError:
        raise PackageError(
            f"SOURCE_DATE_EPOCH must be an integer (seconds since 1970), not {value!r}"
        ) from None


def date_time(content: bytes | None = None) -> tuple[int, int, int, int, int, int]:
    """The timestamp of an entry.

    ``SOURCE_DATE_EPOCH`` when set. Otherwise a date derived from the file's content:
    still reproducible, but an edited file gets a new date, which Lambda keeps as its
    mtime, so StaticFiles' ETag and Last-Modified change with the content (one fixed date
    for all files would keep serving the old ETag for a same-size edit).
    """
    epoch = source_date_epoch()
    if epoch is None:
        digest = int.from_bytes(hashlib.sha256(content or b"").digest()[:8], "big")
        epoch = ZIP_EPOCH + 2 * (digest % (CONTENT_DATE_SPAN // 2))
    return time.gmtime(epoch)[:6]


def excluded(name: str, patterns: Iterable[str]) -> bool:
    return any(fnmatch.fnmatchcase(name, pattern) for pattern in patterns)


def collect(root: Path, *, prefix: str = "", exclude: Iterable[str] = ()) -> list[Entry]:
    """Every file under ``root`` as entries named ``prefix + relative path``, sorted."""
    patterns = (*ALWAYS_EXCLUDED, *exclude)
    entries = []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames.sort()  # os.walk order is the file system's, not stable
        for filename in filenames:
            path = Path(dirpath) / filename
            relative = path.relative_to(root).as_posix()
            if not excluded(relative, patterns) and not path.is_symlink():
                entries.append(Entry(path, prefix + relative))
    return sorted(entries, key=lambda entry: entry.name)


def _info(entry: Entry, content: bytes) -> zipfile.ZipInfo:
    info = zipfile.ZipInfo(entry.name, date_time=date_time(content))
    executable = os.stat(entry.source).st_mode & 0o111
    info.external_attr = (0o100000 | (0o755 if executable else 0o644)) << 16
    info.create_system = 3
    info.compress_type = COMPRESSION
    return info


def write_zip(path: Path, entries: Iterable[Entry]) -> None:
    """Write a new zip with ``entries`` in the given (sorted) order."""
    with zipfile.ZipFile(path, "w", COMPRESSION, compresslevel=LEVEL) as archive:
        _add(archive, entries)


@dataclass(frozen=True)
class Base:
    """A zip that many others start with, read once: its entries and their hash.

    A zip is its entries' bytes, then the central directory (one record per entry, each
    naming where its entry starts), then the end record (entry count, directory size and
    offset). Extending ``base`` into a new zip is: the same entries' bytes, the new
    entries, ``base``'s directory records unchanged (the old entries did not move), the
    new records, a new end record. Nothing of ``base`` is parsed, compressed or hashed
    again.
    """

    path: Path
    body: int
    """Bytes of the entries: where the central directory starts."""
    directory: bytes
    count: int
    digest: Any = field(repr=False, compare=False)
    """sha256 of the first ``body`` bytes, to be copied and continued."""


_END = struct.Struct("<4s4H2LH")
_END_SIGNATURE = b"PK\x05\x06"
_MAX_ENTRIES = 0xFFFF  # beyond this (or 4 GiB) a zip needs zip64 records


def read_base(path: Path) -> Base | None:
    """``path`` as a :class:`Base`; None for a zip64 file (extended the slow way)."""
    with open(path, "rb") as file:
        file.seek(-_END.size, os.SEEK_END)
        end = file.read(_END.size)
        signature, _, _, _, count, size, offset, comment = _END.unpack(end)
        if signature != _END_SIGNATURE or comment or count >= _MAX_ENTRIES:
            return None  # written by write_zip: no comment; zip64 is left to zipfile
        if offset + size + _END.size != file.tell():
            return None
        file.seek(offset)
        directory = file.read(size)
        file.seek(0)
        digest = hashlib.sha256()
        remaining = offset
        while remaining:
            chunk = file.read(min(remaining, 1 << 20))
            digest.update(chunk)
            remaining -= len(chunk)
    return Base(path, offset, directory, count, digest)


class _At(io.BytesIO):
    """A buffer that says it starts ``offset`` bytes into a file, so that zipfile writes
    entries whose offsets are right once the buffer lands there."""

    def __init__(self, offset: int) -> None:
        super().__init__()
        self.offset = offset

    def tell(self) -> int:
        return super().tell() + self.offset

    def seek(self, position: int, whence: int = os.SEEK_SET) -> int:
        if whence == os.SEEK_SET:
            position -= self.offset
        return super().seek(position, whence) + self.offset


def extend_zip(base: Base | Path, path: Path, entries: Iterable[Entry]) -> str:
    """Write ``path``: the zip ``base`` plus ``entries``; return its sha256.

    Shared dependencies are compressed once into ``base``; each function's zip copies
    those bytes (a kernel copy) and appends its own entries and the directory, so a
    function costs the size of its own code, not of the shared dependencies.
    """
    entries = list(entries)
    if isinstance(base, Path):
        base = read_base(base) or base
    if isinstance(base, Path) or base.count + len(entries) >= _MAX_ENTRIES:
        return _append(base if isinstance(base, Path) else base.path, path, entries)
    buffer = _At(base.body)
    with zipfile.ZipFile(buffer, "w", COMPRESSION, compresslevel=LEVEL) as archive:
        _add(archive, entries)
    own = buffer.getvalue()
    _, _, _, _, added, size, offset, _ = _END.unpack(own[-_END.size :])
    local = own[: offset - base.body]
    directory = own[offset - base.body : offset - base.body + size]
    end = _END.pack(
        _END_SIGNATURE,
        0,
        0,
        base.count + added,
        base.count + added,
        len(base.directory) + size,
        base.body + len(local),
        0,
    )
    tail = b"".join((local, base.directory, directory, end))
    with open(base.path, "rb") as source, open(path, "wb") as target:
        _copy(source.fileno(), target.fileno(), base.body)
        target.write(tail)
    digest = base.digest.copy()
    digest.update(tail)
    return str(digest.hexdigest())


def _append(base: Path, path: Path, entries: list[Entry]) -> str:
    """The slow way, for zips that need zip64 records: zipfile rewrites the directory."""
    shutil.copyfile(base, path)
    with zipfile.ZipFile(path, "a", COMPRESSION, compresslevel=LEVEL) as archive:
        _add(archive, entries)
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _copy(source: int, target: int, count: int) -> None:
    """The first ``count`` bytes of ``source`` into ``target``, inside the kernel where
    it can (on XFS or btrfs the blocks are shared, not copied)."""
    kernel = hasattr(os, "copy_file_range")
    while count:
        copied = 0
        if kernel:
            try:
                copied = os.copy_file_range(source, target, count)
            except OSError:  # another file system or an old kernel: copy it ourselves
                kernel = False
                continue
        else:
            chunk = os.read(source, min(count, 1 << 20))
            view = memoryview(chunk)
            while view:
                view = view[os.write(target, view) :]
            copied = len(chunk)
        if copied == 0:
            raise OSError("the zip to extend is shorter than it said")
        count -= copied


def _add(archive: zipfile.ZipFile, entries: Iterable[Entry]) -> None:
    for entry in entries:
        content = entry.source.read_bytes()
        archive.writestr(_info(entry, content), content, COMPRESSION, LEVEL)


def unzipped_size(entries: Iterable[Entry]) -> int:
    return sum(entry.source.stat().st_size for entry in entries)
