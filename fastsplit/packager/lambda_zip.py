"""``fastsplit package --target lambda``: one deployable zip per function.

Reads a build folder (its manifest), installs the dependency set once (cached), compresses
the dependencies once (cached), then gives every function a zip of those bytes plus its
own code, in parallel. Writes ``dist/lambda`` atomically, with a manifest of sizes and
hashes and deploy configs that point at the zips. Knows nothing of FastAPI.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from fastsplit import __version__
from fastsplit.errors import Diagnostic
from fastsplit.packager import configs
from fastsplit.packager.deps import (
    RUNTIME_PROVIDED,
    DependencySet,
    PackageError,
    Target,
    install,
    read_requirements,
)
from fastsplit.packager.slim import InstalledSet, Selection, read_imports
from fastsplit.packager.zipper import (
    APP_EXCLUDED,
    Base,
    Entry,
    collect,
    extend_zip,
    read_base,
    source_date_epoch,
    unzipped_size,
    write_zip,
)
from fastsplit.writer import swap_in

MB = 1024 * 1024
DIRECT_UPLOAD_LIMIT = 50 * MB
UNZIPPED_LIMIT = 250 * MB
LAYER_ZIP = "layer-deps.zip"


@dataclass(frozen=True)
class Options:
    build: Path
    out: Path
    target: Target
    project_dir: Path
    cache_dir: Path
    requirements_file: Path | None = None
    exclude: tuple[str, ...] = ()
    jobs: int = 0
    layer: bool = False
    include_runtime: bool = False


@dataclass(frozen=True)
class Artifact:
    name: str
    zip: str
    size: int
    unzipped: int
    sha256: str
    largest: tuple[tuple[str, int], ...] = ()
    distributions: tuple[tuple[str, str], ...] = ()
    """For a slim function: the distributions it ships, each with why."""


@dataclass(frozen=True)
class Dependencies:
    """The compressed dependencies a function's zip starts from."""

    zip: Base | Path
    """Read once (:func:`read_base`) for all the functions that start from it."""
    size: int
    sizes: dict[str, int]
    selection: Selection | None = None


@dataclass(frozen=True)
class Result:
    artifacts: tuple[Artifact, ...]
    layer: Artifact | None
    installed: bool
    """False when the dependency set came from the cache (no pip run)."""
    dependency_key: str
    diagnostics: tuple[Diagnostic, ...] = field(default=())


def read_manifest(build: Path) -> dict[str, Any]:
    try:
        data: dict[str, Any] = json.loads((build / "manifest.json").read_text("utf-8"))
    except (OSError, ValueError):
        raise PackageError(
            f"no fastsplit build in {build}; run `fastsplit build APP --out {build}` first"
        ) from None
    return data


def target_from_manifest(manifest: dict[str, Any]) -> Target:
    """The build's runtime and (most common) architecture: the default target."""
    python = str(manifest.get("runtime", "python3.12")).removeprefix("python")
    arches = [f["settings"]["architecture"] for f in manifest.get("functions", [])]
    arch = max(sorted(set(arches)), key=arches.count) if arches else "x86_64"
    return Target(python=python, arch=arch)


def package(options: Options, progress: Callable[[str], None] | None = None) -> Result:
    manifest = read_manifest(options.build)
    from fastsplit.writer import check_out_dir

    check_out_dir(options.out)
    requirements = read_requirements(
        requirements_file=options.requirements_file,
        project_dir=options.project_dir,
        include_runtime=options.include_runtime,
    )
    dependencies = DependencySet(requirements, options.target)
    installed = install(dependencies, cache_dir=options.cache_dir)
    dep_exclude = (*options.exclude, "bin/*")
    if not options.include_runtime:
        dep_exclude += tuple(f"{name}/*" for name in RUNTIME_PROVIDED)
        dep_exclude += tuple(f"{name}-*.dist-info/*" for name in RUNTIME_PROVIDED)
    prefix = "python/" if options.layer else ""
    dep_entries = collect(installed.path, prefix=prefix, exclude=dep_exclude)
    deps_zip = _cached_deps_zip(options, dependencies, dep_entries, prefix)
    per_function = (
        {}
        if options.layer
        else _slim_dependencies(
            manifest, options, site=installed.path, dependencies=dependencies, entries=dep_entries
        )
    )
    # Read (and hashed) once, and only when some function's zip starts from the whole set.
    unused = options.layer or all(f["name"] in per_function for f in manifest["functions"])
    everything = Dependencies(
        deps_zip if unused else _read_base(deps_zip),
        unzipped_size(dep_entries),
        _contributors(dep_entries, prefix),
    )

    options.out.absolute().parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{options.out.name}.tmp-", dir=options.out.parent))
    try:
        functions = manifest["functions"]

        def build_one(function: dict[str, Any]) -> Artifact:
            deps = per_function.get(function["name"], everything)
            artifact = _function_zip(function, options, staging, deps)
            if progress is not None:
                progress(function["name"])
            return artifact

        jobs = options.jobs or min(32, (os.cpu_count() or 1) + 2)
        with ThreadPoolExecutor(max_workers=jobs) as pool:
            artifacts = tuple(pool.map(build_one, functions))
        layer = None
        if options.layer:
            shutil.copyfile(deps_zip, staging / LAYER_ZIP)
            layer = _artifact(
                "layer-deps",
                staging / LAYER_ZIP,
                unzipped=everything.size,
                sizes=everything.sizes,
                sha256=_sha256(staging / LAYER_ZIP),
            )
        diagnostics = (
            *_architecture_warnings(manifest, options.target),
            *_check_limits(artifacts, layer),
            *_selection_diagnostics(per_function),
        )
        _write_configs(options, staging, manifest, artifacts, layer)
        _write_manifest(staging, manifest, options, dependencies, artifacts, layer)
        swap_in(staging, options.out)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return Result(artifacts, layer, not installed.from_cache, dependencies.key, diagnostics)


def _cached_deps_zip(
    options: Options, dependencies: DependencySet, entries: list[Entry], prefix: str
) -> Path:
    """The dependencies compressed once, kept next to the installed set."""
    recipe = json.dumps(
        {
            "entries": [e.name for e in entries],
            "epoch": source_date_epoch(),
            "prefix": prefix,
            "format": 2,
        },
        sort_keys=True,
    )
    digest = hashlib.sha256(recipe.encode()).hexdigest()[:16]
    path = options.cache_dir / "deps" / dependencies.key / f"deps-{digest}.zip"
    if not path.is_file():
        tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        write_zip(tmp, entries)
        os.replace(tmp, path)
    return path


def _slim_dependencies(
    manifest: dict[str, Any],
    options: Options,
    *,
    site: Path,
    dependencies: DependencySet,
    entries: list[Entry],
) -> dict[str, Dependencies]:
    """For each slim function, only the distributions its handler's imports need.

    Functions needing the same distributions share one compressed zip (cached like the
    full set), so a build of many light routes compresses their dependencies once.
    """
    imports = read_imports(options.build)
    slim = [f["name"] for f in manifest["functions"] if f.get("mode") == "slim"]
    if not slim:
        return {}
    installed = InstalledSet(site)
    provided = () if options.include_runtime else RUNTIME_PROVIDED
    shared: dict[frozenset[str], Dependencies] = {}
    found = {}
    for name in slim:
        if name not in imports:
            continue  # a build without imports.json: ship everything, as for full
        selection = installed.select(name, imports[name], runtime_provided=provided)
        deps = shared.get(selection.names)
        if deps is None:
            kept = [e for e in entries if _ships(installed.owners.get(e.name), selection)]
            deps = Dependencies(
                _read_base(_cached_deps_zip(options, dependencies, kept, "")),
                unzipped_size(kept),
                _contributors(kept, ""),
            )
            shared[selection.names] = deps
        found[name] = Dependencies(deps.zip, deps.size, deps.sizes, selection)
    return found


def _ships(owner: str | None, selection: Selection) -> bool:
    """A file no RECORD lists (rare) goes to every function, to be safe."""
    return owner is None or owner in selection.names


def _selection_diagnostics(per_function: dict[str, Dependencies]) -> tuple[Diagnostic, ...]:
    found: dict[Diagnostic, None] = {}
    for deps in per_function.values():
        if deps.selection is not None:
            found.update(dict.fromkeys(deps.selection.diagnostics))
    return tuple(found)


def _function_zip(
    function: dict[str, Any], options: Options, staging: Path, deps: Dependencies
) -> Artifact:
    folder = options.build / function["folder"]
    entries = collect(folder, exclude=(*APP_EXCLUDED, *options.exclude))
    name = function["name"]
    path = staging / f"{name}.zip"
    tmp = staging / f".{name}.zip.tmp"
    if options.layer:
        write_zip(tmp, entries)
        sha256 = _sha256(tmp)
        own_size, sizes = 0, {}
    else:
        sha256 = extend_zip(deps.zip, tmp, entries)
        own_size, sizes = deps.size, dict(deps.sizes)
    for key, size in _contributors(entries, "").items():
        sizes[key] = sizes.get(key, 0) + size
    os.replace(tmp, path)
    return _artifact(
        name,
        path,
        unzipped=own_size + unzipped_size(entries),
        sizes=sizes,
        sha256=sha256,
        reasons=deps.selection.reasons if deps.selection else {},
    )


def _read_base(path: Path) -> Base | Path:
    return read_base(path) or path


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as file:
        for chunk in iter(lambda: file.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _artifact(
    name: str,
    path: Path,
    *,
    unzipped: int,
    sizes: dict[str, int],
    sha256: str,
    reasons: dict[str, str] | None = None,
) -> Artifact:
    largest = tuple(sorted(sizes.items(), key=lambda item: (-item[1], item[0]))[:5])
    return Artifact(
        name=name,
        zip=path.name,
        size=path.stat().st_size,
        unzipped=unzipped,
        sha256=sha256,
        largest=largest,
        distributions=tuple((reasons or {}).items()),
    )


def _contributors(entries: Iterable[Entry], prefix: str) -> dict[str, int]:
    """Unzipped bytes per top-level package or module (``fastapi``, ``pydantic_core``)."""
    sizes: dict[str, int] = {}
    for entry in entries:
        top = entry.name.removeprefix(prefix).split("/", 1)[0]
        top = top.split("-", 1)[0] if top.endswith(".dist-info") else top
        sizes[top] = sizes.get(top, 0) + entry.source.stat().st_size
    return sizes


def _check_limits(
    artifacts: tuple[Artifact, ...], layer: Artifact | None
) -> tuple[Diagnostic, ...]:
    diagnostics = []
    layer_unzipped = layer.unzipped if layer else 0
    if layer is not None and layer.size > DIRECT_UPLOAD_LIMIT:
        diagnostics.append(_upload_warning(layer))
    for artifact in artifacts:
        total = artifact.unzipped + layer_unzipped
        if total > UNZIPPED_LIMIT:
            contributors = ", ".join(f"{n} {s / MB:.1f} MB" for n, s in artifact.largest)
            raise PackageError(
                f"function {artifact.name} is {total / MB:.1f} MB unzipped, over Lambda's "
                f"250 MB limit (largest: {contributors}); exclude files with --exclude or "
                "use a container image"
            )
        if artifact.size > DIRECT_UPLOAD_LIMIT:
            diagnostics.append(_upload_warning(artifact))
    return tuple(diagnostics)


def _upload_warning(artifact: Artifact) -> Diagnostic:
    return Diagnostic(
        "warning",
        artifact.name,
        f"zip is {artifact.size / MB:.1f} MB, over the 50 MB of a direct upload: deploy "
        "it through S3 (both serverless and sam deploy do)",
    )


def _architecture_warnings(manifest: dict[str, Any], target: Target) -> list[Diagnostic]:
    """Functions built for another architecture than the one packaged for."""
    return [
        Diagnostic(
            "warning",
            function["name"],
            f"built for {function['settings']['architecture']} but packaged for "
            f"{target.arch} (one dependency set per run); package it with --arch "
            f"{function['settings']['architecture']} separately or drop the setting",
        )
        for function in manifest.get("functions", [])
        if function.get("settings", {}).get("architecture", target.arch) != target.arch
    ]


def _write_configs(
    options: Options,
    staging: Path,
    manifest: dict[str, Any],
    artifacts: tuple[Artifact, ...],
    layer: Artifact | None,
) -> None:
    zips = {artifact.name: artifact.zip for artifact in artifacts}
    layer_zip = layer.zip if layer else None
    for name, render in (
        ("serverless.yml", configs.serverless_yml),
        ("template.yaml", configs.template_yaml),
    ):
        source = options.build / name
        if source.is_file():
            text = render(
                source.read_text(encoding="utf-8"),
                zips=zips,
                target=options.target,
                layer_zip=layer_zip,
                app=str(manifest.get("app", "")),
            )
            (staging / name).write_text(text, encoding="utf-8")


def _write_manifest(
    staging: Path,
    manifest: dict[str, Any],
    options: Options,
    dependencies: DependencySet,
    artifacts: tuple[Artifact, ...],
    layer: Artifact | None,
) -> None:
    def describe(artifact: Artifact) -> dict[str, Any]:
        described: dict[str, Any] = {
            "zip": artifact.zip,
            "size": artifact.size,
            "unzipped_size": artifact.unzipped,
            "sha256": artifact.sha256,
        }
        if artifact.distributions:
            described["distributions"] = dict(artifact.distributions)
        return described

    data = {
        "fastsplit_version": __version__,
        "app": manifest.get("app"),
        "target": {
            "python": options.target.python,
            "arch": options.target.arch,
            "platforms": options.target.platforms(),
        },
        "requirements": list(dependencies.requirements),
        "dependency_set": dependencies.key,
        "functions": {artifact.name: describe(artifact) for artifact in artifacts},
        "layer": describe(layer) if layer else None,
    }
    text = json.dumps(data, sort_keys=True, indent=2) + "\n"
    (staging / "manifest.json").write_text(text, encoding="utf-8")
