"""Unit tests of the deterministic zip writer: extending a shared zip without re-reading it."""

from __future__ import annotations

import hashlib
import zipfile
from pathlib import Path

import pytest

from fastsplit.packager import zipper
from fastsplit.packager.zipper import Entry, extend_zip, read_base, write_zip


def _files(root: Path, files: dict[str, bytes]) -> list[Entry]:
    entries = []
    for name, content in sorted(files.items()):
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content)
        entries.append(Entry(path, name))
    return entries


@pytest.fixture
def base(tmp_path: Path) -> Path:
    files = {f"pkg/mod{i}.py": (f"VALUE = {i}\n" * (i + 1)).encode() for i in range(40)}
    files["pkg/data.bin"] = bytes(range(256)) * 64
    path = tmp_path / "base.zip"
    write_zip(path, _files(tmp_path / "deps", files))
    return path


def test_extended_zip_holds_both_sets_and_reports_its_own_hash(base: Path, tmp_path: Path) -> None:
    own = _files(tmp_path / "own", {"handler.py": b"handler = 1\n", "app/x.py": b"X = 2\n"})
    out = tmp_path / "out.zip"
    digest = extend_zip(base, out, own)
    assert digest == hashlib.sha256(out.read_bytes()).hexdigest()
    with zipfile.ZipFile(out) as archive:
        assert archive.testzip() is None
        names = archive.namelist()
        assert archive.read("handler.py") == b"handler = 1\n"
        assert archive.read("pkg/data.bin") == bytes(range(256)) * 64
    with zipfile.ZipFile(base) as archive:
        base_names = archive.namelist()
    assert names == [*base_names, "app/x.py", "handler.py"]


def test_extending_gives_the_bytes_zipfile_append_mode_gives(base: Path, tmp_path: Path) -> None:
    """The fast path writes what the straightforward one does, byte for byte."""
    own = _files(tmp_path / "own", {"handler.py": b"print('hi')\n" * 50})
    fast = tmp_path / "fast.zip"
    extend_zip(read_base(base) or base, fast, own)
    slow = tmp_path / "slow.zip"
    slow.write_bytes(base.read_bytes())
    with zipfile.ZipFile(slow, "a", zipper.COMPRESSION, compresslevel=zipper.LEVEL) as archive:
        zipper._add(archive, own)
    assert fast.read_bytes() == slow.read_bytes()


def test_one_base_extends_many_zips_identically(base: Path, tmp_path: Path) -> None:
    shared = read_base(base)
    assert shared is not None
    own = _files(tmp_path / "own", {"handler.py": b"h = 1\n"})
    digests = {extend_zip(shared, tmp_path / f"{i}.zip", own) for i in range(3)}
    assert len(digests) == 1
    assert len({(tmp_path / f"{i}.zip").read_bytes() for i in range(3)}) == 1


def test_a_zip_with_a_comment_is_extended_the_slow_way(base: Path, tmp_path: Path) -> None:
    with zipfile.ZipFile(base, "a") as archive:
        archive.comment = b"not ours"
    assert read_base(base) is None
    own = _files(tmp_path / "own", {"handler.py": b"h = 1\n"})
    out = tmp_path / "out.zip"
    digest = extend_zip(base, out, own)
    assert digest == hashlib.sha256(out.read_bytes()).hexdigest()
    with zipfile.ZipFile(out) as archive:
        assert archive.testzip() is None
        assert archive.read("handler.py") == b"h = 1\n"


def test_without_copy_file_range_the_bytes_are_the_same(
    base: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    own = _files(tmp_path / "own", {"handler.py": b"h = 1\n"})
    kernel = tmp_path / "kernel.zip"
    extend_zip(base, kernel, own)

    def unsupported(*args: object) -> int:
        raise OSError(95, "Operation not supported")

    monkeypatch.setattr(zipper.os, "copy_file_range", unsupported)
    by_hand = tmp_path / "by_hand.zip"
    extend_zip(base, by_hand, own)
    assert by_hand.read_bytes() == kernel.read_bytes()


def test_a_zip_that_would_need_zip64_is_extended_the_slow_way(
    base: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    shared = read_base(base)
    assert shared is not None
    monkeypatch.setattr(zipper, "_MAX_ENTRIES", shared.count + 1)
    own = _files(tmp_path / "own", {"handler.py": b"h = 1\n"})
    out = tmp_path / "out.zip"
    assert extend_zip(shared, out, own) == hashlib.sha256(out.read_bytes()).hexdigest()
    with zipfile.ZipFile(out) as archive:
        assert archive.testzip() is None
        assert archive.namelist()[-1] == "handler.py"
