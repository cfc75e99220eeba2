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
    copies: dict[str, str] = {}  # app file → the first copy of it
    texts: dict[str, str] = {}  # text → the first file written with it
    links: list[tuple[str, str]] = []
    folders: set[str] = set()
    for output in outputs:
        target = os.path.join(root, output.path)
        folders.add(os.path.dirname(output.path))
        if output.text is not None:
            # Every slim function carries the same runtime module: written once, linked.
            written = texts.setdefault(output.text, target)
            if written != target:
                links.append((written, target))
        elif output.copy_from is not None:
            # Every function carries the same app files: the first copy is linked
            # instead of copying again (large apps have thousands of them).
            first = copies.setdefault(output.copy_from, target)
            if first != target:
                links.append((first, target))
    umask = _umask()
    _make_folders(root, folders, fix_mode=(0o755 & ~umask) != 0o755)
    fix_files = (0o644 & ~umask) != 0o644
    _in_batches(
        lambda batch: _write_texts(batch, fix_mode=fix_files),
        [(target, text) for text, target in texts.items()],
    )
    _in_batches(
        lambda batch: _copy_batch(batch, app_dir),
        [(source, target) for source, target in copies.items()],
    )
    _in_batches(_link_batch, links)


BATCH = 2000
FOLDER_BATCH = 100  # function folders per thread's batch (when making or removing them)


def _make_folders(root: str, folders: set[str], *, fix_mode: bool) -> None:
    """Make ``folders`` (relative to ``root``) and their parents, 0755 whatever the
    umask (``fix_mode``: it would not give that). The top folders are made first, then
    each one's subtree (a function's folder and its packages) by a few threads: making a
    folder waits on the file system, not on Python, and a big build has thousands."""
    every: set[str] = set()
    for folder in folders:
        while folder and folder not in every:
            every.add(folder)
            folder = os.path.dirname(folder)
    units: dict[str, list[str]] = {}  # "functions/NAME" → its folders
    top = []
    for folder in sorted(every, key=lambda f: (f.count("/"), f)):  # parents first
        parts = folder.split("/", 2)
        if len(parts) == 1:
            top.append(folder)
        else:
            units.setdefault("/".join(parts[:2]), []).append(folder)
    _mkdirs(root, top, fix_mode=fix_mode)
    _in_batches(
        lambda batch: _mkdirs(root, [f for unit in batch for f in unit], fix_mode=fix_mode),
        list(units.values()),
        size=FOLDER_BATCH,
    )


def _mkdirs(root: str, folders: list[str], *, fix_mode: bool) -> None:
    for folder in folders:  # each after its parent
        path = os.path.join(root, folder)
        os.mkdir(path, 0o755)
        if fix_mode:
            os.chmod(path, 0o755)


def _umask() -> int:
    """The process's umask, read without changing it where the system says it."""
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    umask = os.umask(0o022)
    os.umask(umask)
    return umask


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


def _write_texts(texts: list[tuple[str, str]], *, fix_mode: bool) -> None:
    for target, text in texts:
        # 0644 unless the umask takes more than group and other write away.
        descriptor = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
        with open(descriptor, "wb") as file:
            file.write(text.encode("utf-8"))
        if fix_mode:
            os.chmod(target, 0o644)


def _copy_batch(copies: list[tuple[str, str]], app_dir: Path) -> None:
    for source, target in copies:
        # copy2 keeps the modification time: static files keep their ETag and
        # Last-Modified, as served by the monolith.
        shutil.copy2(app_dir / source, target)
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
    _in_batches(_remove_folders, inner, size=FOLDER_BATCH)
    shutil.rmtree(folder, ignore_errors=True)


def _remove_folders(folders: list[str]) -> None:
    for folder in folders:
        shutil.rmtree(folder, ignore_errors=True)
