"""Deterministic zip files.

The same inputs give the same bytes on any day and from any checkout path: entries are
sorted, every timestamp is ``SOURCE_DATE_EPOCH`` (default 1980-01-01, the earliest a zip
can hold), permissions are 0644 (0755 when the source is executable), the creator
system is Unix and the compression level is fixed.
"""

from __future__ import annotations

import fnmatch
import hashlib
import os
import shutil
import time
import zipfile
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

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


def extend_zip(base: Path, path: Path, entries: Iterable[Entry]) -> None:
    """``path`` = a copy of the zip ``base`` plus ``entries`` appended.

    Shared dependencies are compressed once into ``base``; each function's zip copies
    those bytes instead of compressing them again, so a function costs the size of its
    own code, not of the shared dependencies.
    """
    shutil.copyfile(base, path)
    with zipfile.ZipFile(path, "a", COMPRESSION, compresslevel=LEVEL) as archive:
        _add(archive, entries)


def _add(archive: zipfile.ZipFile, entries: Iterable[Entry]) -> None:
    for entry in entries:
        content = entry.source.read_bytes()
        archive.writestr(_info(entry, content), content, COMPRESSION, LEVEL)


def unzipped_size(entries: Iterable[Entry]) -> int:
    return sum(entry.source.stat().st_size for entry in entries)
