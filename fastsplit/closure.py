"""What a slim handler's import loaded, sorted for its function: the application files it
carries and the third-party packages (and distributions) it needs, each with the import
chain that pulled it in (what ``fastsplit explain`` shows).

Every function of a big app imports mostly the same modules: what is learned about a
module (or a set of packages) once holds for the whole build; :func:`clear_caches`
forgets it between builds.
"""

from __future__ import annotations

import sys
import sysconfig
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import cache
from importlib import metadata
from pathlib import Path
from typing import Any

from fastsplit.model import Function, ImportedModule, Imports, UsedDistribution
from fastsplit.packager.requirements import canonical_name, requirement_closure
from fastsplit.sources import is_first_party_file, list_files

HANDLER = "handler"
OWN_MODULES = frozenset({HANDLER, "fastsplit_runtime"})


def import_chain(name: str, modules: dict[str, dict[str, Any]]) -> tuple[str, ...]:
    """``("handler", ..., name)``: who imported whom, back to the handler."""
    chain = [name]
    current = modules.get(name, {}).get("importer")
    while current and current not in chain:
        chain.append(current)
        if current == HANDLER:
            break
        current = modules.get(current, {}).get("importer")
    return tuple(reversed(chain))


def record_imports(
    loaded: list[dict[str, Any]],
    function: Function,
    *,
    app_dir: Path,
    shared: Sequence[dict[str, Any]] = (),
) -> Imports:
    """Sort what the handler's import loaded into application modules (whose files the
    function carries) and third-party packages (whose distributions it needs).
    ``shared``: the entries of ``loaded`` that every handler loads (the same objects for
    every function: they are sorted once)."""
    base = _shared_part(shared, app_dir)
    # Functions of one endpoint module load the same modules, as a rule: sort them once
    # (the files of the handler's own modules, in its folder, are never in the result).
    key = tuple(_entry_key(m) for m in loaded if m["name"] not in base.names)
    return _sorted_imports(base, key, function.slim_include, function.slim_exclude, app_dir)


@dataclass(frozen=True, eq=False)
class _Sorted:
    """Modules sorted into application modules, their files, and third-party packages
    (each package's key → the name of the module whose import chain it shows)."""

    names: frozenset[str]
    modules: dict[str, dict[str, Any]]
    own: tuple[ImportedModule, ...]
    files: frozenset[str]
    packages: dict[str, str]


_SHARED: dict[int, tuple[Sequence[dict[str, Any]], _Sorted]] = {}


def _shared_part(shared: Sequence[dict[str, Any]], app_dir: Path) -> _Sorted:
    found = _SHARED.get(id(shared))
    if found is None or found[0] is not shared:
        entries = tuple(_entry_key(m) for m in shared)
        found = _SHARED[id(shared)] = shared, _sort_modules(entries, app_dir)
    return found[1]


def _entry_key(m: dict[str, Any]) -> tuple[str, str | None, tuple[str, ...], str | None]:
    if m["name"] in OWN_MODULES:
        return (m["name"], None, (), m["importer"])
    return (m["name"], m["file"], tuple(m["path"]), m["importer"])


def _sort_modules(
    loaded: Iterable[tuple[str, str | None, tuple[str, ...], str | None]],
    app_dir: Path,
    base: _Sorted | None = None,
) -> _Sorted:
    """Sort ``loaded`` (with ``base``, modules sorted before, whose importers they can
    name)."""
    mine = {
        name: {"name": name, "file": file, "path": path, "importer": importer}
        for name, file, path, importer in loaded
    }
    modules = {**base.modules, **mine} if base else mine
    own: list[ImportedModule] = list(base.own) if base else []
    files: set[str] = set(base.files) if base else set()
    packages: dict[str, str] = dict(base.packages) if base else {}
    for name in sorted(mine):
        if name in OWN_MODULES or name == "__main__":
            continue
        entry = mine[name]
        kind = _kind(name, entry["file"], entry["path"], app_dir)
        if kind == "own":
            own.append(ImportedModule(name, import_chain(name, modules)))
            files.update(_module_files(entry["file"], app_dir))
        elif kind == "package":
            key = _package_key(name, modules)
            # The package's own module shows its chain, else the first module of it.
            shown = key if key in modules else name
            if key not in packages or shown < packages[key]:
                packages[key] = shown
    return _Sorted(
        names=frozenset(modules),
        modules=modules,
        own=tuple(sorted(own, key=lambda m: m.name)),
        files=frozenset(files),
        packages=packages,
    )


@cache
def _sorted_imports(
    base: _Sorted,
    loaded: tuple[tuple[str, str | None, tuple[str, ...], str | None], ...],
    slim_include: tuple[str, ...],
    slim_exclude: tuple[str, ...],
    app_dir: Path,
) -> Imports:
    found = _sort_modules(loaded, app_dir, base)
    included, other_include = _named_files(slim_include, app_dir)
    excluded, other_exclude = _named_files(slim_exclude, app_dir)
    packages = [
        ImportedModule(key, import_chain(shown, found.modules))
        for key, shown in sorted(found.packages.items())
    ]
    return Imports(
        modules=found.own,
        files=tuple(sorted(found.files.union(included).difference(excluded))),
        packages=tuple(packages),
        distributions=_distributions(tuple(sorted(found.packages))),
        include=other_include,
        exclude=other_exclude,
    )


@cache
def first_party(location: str, app_dir: Path) -> bool:
    """:func:`fastsplit.sources.is_first_party_file`, remembered for the build."""
    return is_first_party_file(location, app_dir)


@cache
def _kind(name: str, file: str | None, path: tuple[str, ...], app_dir: Path) -> str:
    """ "own" (an application module), "package" (third-party) or "" (Python's own)."""
    locations = (file,) if file else path
    if any(first_party(location, app_dir) for location in locations):
        return "own"
    return "package" if locations and not _is_stdlib(name, locations) else ""


@cache
def _distributions(packages: tuple[str, ...]) -> tuple[UsedDistribution, ...]:
    return build_distributions(packages)


def clear_caches() -> None:
    """Forget what was learned (a new build: files and installed packages may differ)."""
    caches = (_sorted_imports, first_party, _kind, _is_stdlib, _module_files, _distributions)
    for cached in (*caches, _version):
        cached.cache_clear()
    _SHARED.clear()


@cache
def _stdlib_dirs() -> tuple[Path, ...]:
    paths = sysconfig.get_paths()
    return tuple({Path(paths[key]).resolve() for key in ("stdlib", "platstdlib") if key in paths})


@cache
def _is_stdlib(name: str, locations: tuple[str, ...]) -> bool:
    """Part of Python itself (never packaged): a standard module, or a file of the
    standard library folder outside site-packages (``_sysconfigdata_*``)."""
    if name.split(".")[0] in sys.stdlib_module_names:
        return True
    for location in locations:
        path = Path(location).resolve()
        if any(path.is_relative_to(d) for d in _stdlib_dirs()) and not any(
            part in ("site-packages", "dist-packages") for part in path.parts
        ):
            return True
    return False


def _package_key(name: str, modules: dict[str, dict[str, Any]]) -> str:
    """The top-level package, or the second level under a namespace package (whose
    portions can come from several distributions: ``google.protobuf``)."""
    parts = name.split(".")
    top = modules.get(parts[0])
    if top is not None and not top["file"] and len(parts) > 1:
        return ".".join(parts[:2])
    return parts[0]


@cache
def _module_files(filename: str | None, app_dir: Path) -> tuple[str, ...]:
    """The module's file; for a package, also its data files (templates, JSON, ...):
    everything but Python code, outside the folders of its subpackages."""
    if not filename:
        return ()
    path = Path(filename).resolve()
    found = [path.relative_to(app_dir).as_posix()]
    if path.name == "__init__.py":
        package = path.parent
        for relative in list_files(app_dir, (package.relative_to(app_dir).as_posix(),)):
            file = app_dir / relative
            if file.suffix in (".py", ".pyi") or _in_subpackage(file.parent, package):
                continue
            found.append(relative)
    return tuple(found)


def _in_subpackage(folder: Path, package: Path) -> bool:
    while folder != package:
        if (folder / "__init__.py").is_file():
            return True
        folder = folder.parent
    return False


def _named_files(names: Iterable[str], app_dir: Path) -> tuple[set[str], tuple[str, ...]]:
    """Files of the application modules or packages named (``slim_include``/``exclude``),
    with the ``__init__.py`` of their parent packages; and the other names: third-party
    packages or distributions, the packager's business."""
    found: set[str] = set()
    others: list[str] = []
    for name in names:
        base = app_dir.joinpath(*name.split("."))
        if base.with_suffix(".py").is_file():
            found.add(base.with_suffix(".py").relative_to(app_dir).as_posix())
        elif (base / "__init__.py").is_file():
            found.update(list_files(app_dir, (base.relative_to(app_dir).as_posix(),)))
        else:
            others.append(name)
            continue
        parent = base.parent
        while parent != app_dir and (parent / "__init__.py").is_file():
            found.add((parent / "__init__.py").relative_to(app_dir).as_posix())
            parent = parent.parent
    return found, tuple(others)


def build_distributions(packages: Iterable[str]) -> tuple[UsedDistribution, ...]:
    """The build environment's distributions for the imported packages, and their
    requirements (what ``explain`` shows; ``package`` decides again for the target)."""
    providers = _providers()
    imported: dict[str, list[str]] = {}
    for key in packages:
        for dist in providers.get(key.split(".")[0], []):
            imported.setdefault(canonical_name(dist), []).append(key)
    closure = requirement_closure(sorted(imported), requires=_requires)
    used = []
    for name, required_by in sorted(closure.items()):
        used.append(
            UsedDistribution(
                name=name,
                version=_version(name),
                packages=tuple(sorted(imported.get(name, []))),
                required_by=required_by or "",
            )
        )
    return tuple(used)


@cache
def _providers() -> dict[str, list[str]]:
    return dict(metadata.packages_distributions())


@cache
def _requires(name: str) -> tuple[str, ...] | None:
    """The distribution's requirements, or None when it is not installed."""
    try:
        return tuple(metadata.requires(name) or ())
    except metadata.PackageNotFoundError:
        return None


@cache
def _version(name: str) -> str:
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return ""
