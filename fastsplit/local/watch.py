"""``serve --reload``: notice changes to the app's files and rebuild.

Polling (twice a second, modification time and size of every file) needs no dependency
and works on every file system, including mounted ones where inotify sees nothing. The
rebuild runs ``fastsplit build`` in a fresh interpreter: the changed app is imported
anew, and a failing build leaves the previous one in place (builds are atomic).
"""

from __future__ import annotations

import subprocess
import sys
import threading
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from fastsplit.local.deployment import LocalError

GENERATED = frozenset({"handler.py", "fastsplit_runtime.py"})
_SKIPPED_DIRS = frozenset({"__pycache__", ".git", ".venv", "node_modules"})
Snapshot = dict[Path, tuple[int, int]]


def watched_roots(manifest: dict[str, Any], app_dir: Path) -> list[Path]:
    """The app's top-level modules and packages that the build's functions carry."""
    tops = {
        file.split("/", 1)[0]
        for function in manifest.get("functions", [])
        for file in function.get("files", [])
        if file not in GENERATED
    }
    return sorted(app_dir / top for top in tops)


def snapshot(roots: Iterable[Path]) -> Snapshot:
    files: Snapshot = {}
    for root in roots:
        candidates = [root] if root.is_file() else _walk(root)
        for path in candidates:
            try:
                stat = path.stat()
            except OSError:
                continue  # removed while walking: the next poll sees it gone
            files[path] = (stat.st_mtime_ns, stat.st_size)
    return files


def _walk(root: Path) -> Iterable[Path]:
    if not root.is_dir():
        return []
    found = []
    for path in root.rglob("*"):
        if path.is_file() and not _SKIPPED_DIRS.intersection(path.parts) and path.suffix != ".pyc":
            found.append(path)
    return found


def changed(before: Snapshot, after: Snapshot) -> list[Path]:
    return sorted(
        path for path in before.keys() | after.keys() if before.get(path) != after.get(path)
    )


class SourceWatcher:
    """Calls ``on_change(paths)`` from a background thread when files under ``roots``
    change (added, removed, modified); one call per burst of changes."""

    def __init__(
        self,
        roots: Iterable[Path],
        on_change: Callable[[list[Path]], None],
        *,
        interval: float = 0.5,
    ) -> None:
        self.roots = list(roots)
        self._on_change = on_change
        self._interval = interval
        self._stopped = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True, name="reload")

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stopped.set()
        if self._thread.is_alive():
            self._thread.join(timeout=10)

    def _run(self) -> None:
        state = snapshot(self.roots)
        while not self._stopped.wait(self._interval):
            current = snapshot(self.roots)
            if current == state:
                continue
            # Editors write in several steps: wait until the files stop changing.
            while not self._stopped.wait(self._interval):
                settled = snapshot(self.roots)
                if settled == current:
                    break
                current = settled
            paths = changed(state, current)
            state = current
            if paths and not self._stopped.is_set():
                self._on_change(paths)


def rebuild(
    app_ref: str, *, app_dir: Path, project: Path, out: Path, timeout: float = 300.0
) -> None:
    """``fastsplit build APP --out OUT`` in a fresh interpreter; raises :class:`LocalError`
    with the build's own error lines when it fails."""
    command = [
        sys.executable, "-m", "fastsplit", "build", app_ref,
        "--app-dir", str(app_dir), "--project", str(project), "--out", str(out),
    ]  # fmt: skip
    try:
        result = subprocess.run(
            command, capture_output=True, text=True, timeout=timeout, check=False
        )
    except subprocess.TimeoutExpired:
        raise LocalError(f"the rebuild took over {timeout:.0f} s; stopped it") from None
    if result.returncode != 0:
        lines = [line for line in result.stderr.splitlines() if line.strip()]
        errors = [line for line in lines if line.startswith("error")] or lines[-3:]
        raise LocalError("the build failed: " + " / ".join(errors or ["(no output)"]))
