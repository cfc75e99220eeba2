"""Write a rendered build to disk, atomically.

Everything is written to a hidden temporary folder next to the output folder, then
swapped in with renames: a failed build leaves the previous good output untouched and
no half-written files. Only folders fastsplit created itself are ever replaced.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from fastsplit.errors import BuildError
from fastsplit.generator import OutputFile

MARKER = "manifest.json"


def check_out_dir(out: Path) -> None:
    """Refuse to replace anything fastsplit did not create."""
    if out.is_symlink() or (out.exists() and not out.is_dir()):
        raise BuildError(f"--out {out} is a file, not a folder; choose another --out")
    if out.is_dir() and any(out.iterdir()) and not is_fastsplit_output(out):
        raise BuildError(
            f"--out {out} is a non-empty folder that fastsplit did not create; "
            "choose another --out or empty it"
        )


def is_fastsplit_output(folder: Path) -> bool:
    try:
        data = json.loads((folder / MARKER).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return isinstance(data, dict) and "fastsplit_version" in data


def write_build(outputs: Iterable[OutputFile], *, out: Path, app_dir: Path) -> None:
    """Write ``outputs`` into ``out`` (replacing a previous fastsplit build)."""
    check_out_dir(out)
    out = out.absolute()
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=f".{out.name}.tmp-", dir=out.parent))
    except OSError as exc:
        raise BuildError(
            f"cannot write --out {out}: {exc.strerror}; choose another --out"
        ) from None
    try:
        _write_all(outputs, staging, app_dir)
        swap_in(staging, out)
    except OSError as exc:
        shutil.rmtree(staging, ignore_errors=True)
        where = exc.filename or out
        raise BuildError(
            f"cannot write the build ({where}: {exc.strerror}); nothing changed"
        ) from None
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise


def _write_all(outputs: Iterable[OutputFile], staging: Path, app_dir: Path) -> None:
    # Plain strings, not Path objects: a big app's build is hundreds of thousands of
    # files, where pathlib's joins alone cost seconds.
    root = str(staging)
    copies: dict[str, str] = {}
    texts: dict[str, str] = {}  # text → the first file written with it
    links: list[tuple[str, str]] = []
    made: set[str] = set()
    for output in outputs:
        target = os.path.join(root, output.path)
        parent = os.path.dirname(target)
        if parent not in made:
            os.makedirs(parent, exist_ok=True)
            while parent != root and parent not in made:
                made.add(parent)
                parent = os.path.dirname(parent)
        if output.text is not None:
            # Every slim function carries the same runtime module: written once, linked.
            written = texts.setdefault(output.text, target)
            if written != target:
                links.append((written, target))
        elif output.copy_from is not None:
            first = copies.get(output.copy_from)
            if first is None:
                # copy2 keeps the modification time: static files keep their ETag and
                # Last-Modified, as served by the monolith.
                shutil.copy2(app_dir / output.copy_from, target)
                os.chmod(target, 0o644)
                copies[output.copy_from] = target
            else:
                # Every function carries the same app files: link the first copy
                # instead of copying again (large apps have thousands of them).
                links.append((first, target))
    _in_batches(_write_texts, [(target, text) for text, target in texts.items()])
    _in_batches(_link_batch, links)
    # Folders get 0755 whatever the umask, like the files get 0644. (Every folder is one
    # made above: walking the tree instead costs seconds for a thousand functions.)
    for folder in made:
        os.chmod(folder, 0o755)


BATCH = 2000


def _in_batches(work: Callable[[list[Any]], None], items: list[Any], *, size: int = BATCH) -> None:
    """Run ``work`` over ``items`` in batches, a few threads at a time: writing a file or
    making a link is a system call that waits on the file system, not on Python (a
    1,000-route app in full mode makes 400,000 links)."""
    batches = [items[i : i + size] for i in range(0, len(items), size)]
    if len(batches) <= 1:
        work(items)
        return
    with ThreadPoolExecutor(max_workers=min(4, os.cpu_count() or 1, len(batches))) as pool:
        for _ in pool.map(work, batches):
            pass  # re-raises the first error


def _write_texts(texts: list[tuple[str, str]]) -> None:
    for target, text in texts:
        with open(target, "wb") as file:
            file.write(text.encode("utf-8"))
        os.chmod(target, 0o644)


def _link_batch(links: list[tuple[str, str]]) -> None:
    for source, target in links:
        _link_or_copy(source, target)


def _link_or_copy(source: str, target: str) -> None:
    try:
        os.link(source, target)
    except OSError:
        shutil.copy2(source, target)


def swap_in(staging: Path, out: Path) -> None:
    """Put ``staging`` in place of ``out``; the old output is removed only afterwards."""
    os.chmod(staging, 0o755)
    if not out.exists():
        os.replace(staging, out)
        return
    previous = Path(tempfile.mkdtemp(prefix=f".{out.name}.old-", dir=out.parent))
    previous.rmdir()
    os.replace(out, previous)
    try:
        os.replace(staging, out)
    except BaseException:
        os.replace(previous, out)
        raise
    remove_tree(previous)


def remove_tree(folder: Path) -> None:
    """``shutil.rmtree(folder)``, the function folders of a big build by a few threads
    (unlinking a file waits on the file system, not on Python)."""
    functions = folder / "functions"
    try:
        inner = [entry.path for entry in os.scandir(functions) if entry.is_dir()]
    except OSError:
        inner = []
    _in_batches(_remove_folders, inner, size=REMOVE_BATCH)
    shutil.rmtree(folder, ignore_errors=True)


REMOVE_BATCH = 100  # function folders per thread's batch


def _remove_folders(folders: list[str]) -> None:
    for folder in folders:
        shutil.rmtree(folder, ignore_errors=True)
