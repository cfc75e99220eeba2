"""Find the application's own code: what a full-mode function must carry.

Starting from the app module, follow every first-party module it references (modules
in its namespace, and the modules that define its functions and classes), and keep the
top-level packages or single-file modules that live under the app folder. Anything in a
virtualenv or site-packages is a third-party distribution (the packager's business).
"""

from __future__ import annotations

import sys
from pathlib import Path
from types import ModuleType

import fastsplit

_FASTSPLIT_DIR = Path(fastsplit.__file__).resolve().parent
_THIRD_PARTY_MARKERS = ("site-packages", "dist-packages")


def first_party_modules(root: ModuleType, *, app_dir: Path) -> tuple[str, ...]:
    """Top-level first-party modules reachable from ``root``, as paths under ``app_dir``.

    A package is given as its folder (``example_app``), a single-file module as its file
    (``helpers.py``). Sorted, so builds are stable.
    """
    seen: set[str] = set()
    queue = [root]
    tops: set[str] = set()
    while queue:
        module = queue.pop()
        if module.__name__ in seen:
            continue
        seen.add(module.__name__)
        top = _top_level_path(module, app_dir)
        if top is None:
            continue
        tops.add(top)
        for value in list(vars(module).values()):
            for name in _module_names(value):
                candidate = sys.modules.get(name)
                if candidate is not None and candidate.__name__ not in seen:
                    queue.append(candidate)
    return tuple(sorted(tops))


def is_first_party_file(filename: str | None, app_dir: Path) -> bool:
    """True for a file of the application itself: under ``app_dir``, not in a
    virtualenv, site-packages or hidden folder, and not fastsplit's own code."""
    if not filename:
        return False
    path = Path(filename).resolve()
    if not path.is_relative_to(app_dir) or path.is_relative_to(_FASTSPLIT_DIR):
        return False
    relative = path.relative_to(app_dir)
    return not any(part in _THIRD_PARTY_MARKERS or part.startswith(".") for part in relative.parts)


def _module_names(value: object) -> list[str]:
    if isinstance(value, ModuleType):
        return [value.__name__]
    name = getattr(value, "__module__", None)
    return [name] if isinstance(name, str) else []


def _top_level_path(module: ModuleType, app_dir: Path) -> str | None:
    """The module's top-level package folder or file relative to ``app_dir``, if first-party."""
    filename = getattr(module, "__file__", None)
    if not filename:
        return None
    path = Path(filename).resolve()
    if not path.is_relative_to(app_dir) or path.is_relative_to(_FASTSPLIT_DIR):
        return None
    relative = path.relative_to(app_dir)
    if any(part in _THIRD_PARTY_MARKERS or part.startswith(".") for part in relative.parts):
        return None
    top_name = module.__name__.split(".")[0]
    if len(relative.parts) == 1:
        return relative.name if top_name == relative.stem else None
    # A package: the first folder must be the top-level package itself, so that
    # the function folder can import it under the same name.
    return relative.parts[0] if relative.parts[0] == top_name else None


_SKIP_DIRS = frozenset({"__pycache__", "node_modules", "build", "dist"})
_SKIP_SUFFIXES = (".pyc", ".pyo")


def list_files(app_dir: Path, roots: tuple[str, ...]) -> tuple[str, ...]:
    """Every file under the given roots (files or folders relative to ``app_dir``).

    Caches, hidden files (``.git``, ``.env*``), virtualenvs and build output are left
    out. POSIX-style relative paths, sorted (directory walks are not ordered).
    """
    found: set[str] = set()
    for root in roots:
        path = app_dir / root
        if path.is_file():
            found.add(Path(root).as_posix())
            continue
        for file in path.rglob("*"):
            relative = file.relative_to(app_dir)
            if not file.is_file() or _skipped(relative):
                continue
            found.add(relative.as_posix())
    return tuple(sorted(found))


def _skipped(relative: Path) -> bool:
    if relative.suffix in _SKIP_SUFFIXES:
        return True
    for part in relative.parts:
        if part.startswith(".") or part in _SKIP_DIRS or part.endswith(".egg-info"):
            return True
        if part in ("site-packages", "venv", "env"):
            return True
    return False
