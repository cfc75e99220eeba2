"""The floor under any packager that writes these zips: their bytes, written once.

    python bench/write_floor.py ZIPS ROOT

Copies every ``*.zip`` of the folder ZIPS (a ``dist/lambda``) into a new folder under
ROOT with the packager's own copy (``os.copy_file_range``, inside the kernel), then
removes the copy an earlier run left there: what a run that replaces the previous
``dist/`` with the same zips cannot do without. No compression, no hashing, no
installs: the cost of the output's bytes alone, so that what a packager spends above it
can be told from what writing the bytes costs.
"""

import os
import shutil
import sys
import tempfile
from pathlib import Path

from fastsplit.packager.zipper import _copy


def copy(source: Path, target: Path) -> None:
    """``source`` into ``target`` the way the packager copies the dependencies' bytes."""
    with open(source, "rb") as reader, open(target, "wb") as writer:
        _copy(reader.fileno(), writer.fileno(), os.fstat(reader.fileno()).st_size)


def main() -> None:
    dist, root = Path(sys.argv[1]), Path(sys.argv[2])
    root.mkdir(parents=True, exist_ok=True)
    previous = sorted(root.iterdir())
    zips = sorted(dist.glob("*.zip"))
    if not zips:
        raise SystemExit(f"no zips in {dist}")
    new = Path(tempfile.mkdtemp(prefix="copy-", dir=root))
    for zipped in zips:
        copy(zipped, new / zipped.name)
    for old in previous:
        shutil.rmtree(old)


if __name__ == "__main__":
    main()
