"""The build-time proof of slim functions, and what each one imports.

For every function the planner made slim, its handler is written to a temporary folder
and imported in a fresh interpreter (:mod:`fastsplit.probe`). The function stays slim
only if, there, the rebuilt app describes exactly like the monolith did (app settings,
middleware with their options, exception handlers, dependency overrides, lifespan, every
route option and the OpenAPI operations) and the import did not load the module that
assembles the app. Otherwise it becomes a full function, with a diagnostic saying why:
an unproven slim function is never shipped.

What the import loaded becomes the function's :class:`~fastsplit.model.Imports`: the
application files it carries and the third-party packages (and distributions) it needs,
each with the import chain that pulled it in.
"""

from __future__ import annotations

import json
import os
import sys
import sysconfig
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor, wait
from contextlib import ExitStack
from dataclasses import dataclass, replace
from functools import cache
from importlib import metadata
from pathlib import Path
from typing import Any

import fastsplit
from fastsplit.fingerprint import expected_fingerprint, module_state, state_digest
from fastsplit.generator import render_handler
from fastsplit.model import (
    AppSpec,
    BuildPlan,
    Function,
    ImportedModule,
    Imports,
    SlimRoute,
    UsedDistribution,
)
from fastsplit.packager.requirements import canonical_name, requirement_closure
from fastsplit.parser import import_module
from fastsplit.planner import diagnostic_order, not_slim_diagnostics
from fastsplit.proof_io import (
    TIMEOUT,
    Arrivals,
    ProofAhead,
    proof_ahead,
    run,
    spread,
)
from fastsplit.sources import is_first_party_file, list_files

HANDLER = "handler"
OWN_MODULES = frozenset({HANDLER, "fastsplit_runtime"})
ARRIVALS = 0.02  # seconds between looks for new answers


def prove_plan(
    plan: BuildPlan, *, app_dir: Path, jobs: int = 0, ahead: ProofAhead | None = None
) -> BuildPlan:
    """The plan with every slim function proven (and its imports recorded) or made full;
    ``ahead``: the proof's folder and probe, started before the app was described."""
    candidates = [f for f in plan.functions if f.mode == "slim"]
    if not candidates:
        return plan
    _clear_caches()
    app_dir = app_dir.resolve()
    if plan.spec.module not in sys.modules:
        # The monolith's modules are compared with the rebuilt app's: import them.
        import_module(plan.spec.module, app_dir=app_dir)
    # Answers are judged as they arrive, while the probe proves the next functions.
    judged: dict[str, tuple[dict[str, Any], Function]] = {}
    by_name = {function.name: function for function in candidates}

    def judge(name: str, answer: dict[str, Any]) -> None:
        judged[name] = answer, _judged(plan, by_name[name], answer, app_dir=app_dir)

    answers = run_probes(plan, candidates, app_dir=app_dir, jobs=jobs, on_answer=judge, ahead=ahead)
    refused: list[tuple[str, str]] = []
    functions = []
    for function in plan.functions:
        if function.mode == "slim":
            answer = answers[function.name]
            seen, proven = judged.get(function.name, (None, function))
            if seen is not answer:  # not streamed, or replaced since
                proven = _judged(plan, function, answer, app_dir=app_dir)
            if proven.mode != "slim":
                refused.append((function.routes[0].key, proven.not_slim))
            function = proven
        functions.append(function)
    diagnostics = {*plan.diagnostics, *not_slim_diagnostics(refused)}
    return replace(
        plan,
        functions=tuple(functions),
        diagnostics=tuple(sorted(diagnostics, key=diagnostic_order)),
    )


def _judged(
    plan: BuildPlan, function: Function, answer: dict[str, Any], *, app_dir: Path
) -> Function:
    """The function proven slim (with what it imports), or made full with the reason."""
    reason = refusal(answer, plan.spec, function)
    if reason:
        return replace(function, mode="full", not_slim=reason, slim_include=(), slim_exclude=())
    shared = answer.get("shared_modules", ())
    imports = record_imports(answer["modules"], function, app_dir=app_dir, shared=shared)
    return replace(function, imports=imports)


# --- running the probe --------------------------------------------------------------


def run_probes(
    plan: BuildPlan,
    functions: list[Function],
    *,
    app_dir: Path,
    jobs: int = 0,
    share: bool = True,
    on_answer: Callable[[str, dict[str, Any]], None] | None = None,
    ahead: ProofAhead | None = None,
) -> dict[str, dict[str, Any]]:
    """Each function's answer from :mod:`fastsplit.probe` (``{"error": ...}`` when the
    handler could not be imported or the probe did not run). ``share=False`` proves
    every function from scratch, without the probe's shared imports (for comparison).
    ``on_answer(name, answer)`` sees answers as they arrive, while the probe runs; the
    answers returned are the last word (an answer can still be replaced after it was
    seen, when the child that wrote it is killed for taking too long)."""
    jobs = jobs or os.cpu_count() or 1
    with ExitStack() as stack:
        if ahead is None or ahead.used or ahead.app_dir != app_dir.resolve():
            ahead = stack.enter_context(proof_ahead(app_dir))
        ahead.used = True
        root, first = ahead.root, ahead.process
        forks = first is not None
        requests = []
        for function in functions:
            requests.append(
                {
                    "name": function.name,
                    # The probe imports the handler from its source, as if it were
                    # handler.py in this folder (which is never written).
                    "dir": str(root / "functions" / function.name),
                    "source": render_handler(plan, function),
                    "group": _endpoint_module(function),
                }
            )
        (root / "answers").mkdir()
        prelude_answer = root / "answers" / "prelude.json"
        base = {
            "app_dir": str(app_dir),
            "app_module": plan.spec.module,
            "runtime_dir": str(root / "runtime"),
            "fastsplit_root": str(Path(fastsplit.__file__).resolve().parent.parent),
            "jobs": jobs,
            "timeout": TIMEOUT,
            "states": monolith_states(app_dir),
            "prelude": str(prelude_answer),
            "share": share,
        }
        # One answers log for the probe that forks; without fork, one per process (appends
        # from several processes do not interleave on POSIX only).
        batches = [requests] if forks else [[request] for request in requests]
        logs = [root / "answers" / f"{batch[0]['name']}.log" for batch in batches]
        arrivals = Arrivals(logs, prelude_answer)
        with ThreadPoolExecutor(max_workers=1 if len(batches) == 1 else jobs) as pool:
            running = [
                pool.submit(run, {**base, "functions": batch, "answers": str(log)}, first)
                for batch, log in zip(batches, logs, strict=True)
            ]
            while on_answer is not None and wait(running, timeout=ARRIVALS).not_done:
                for arrived in arrivals.new():
                    on_answer(*arrived)
            problems = [future.result() for future in running]
        arrivals.finish()
        answers = {}
        for request, problem in zip(requests, spread(problems, batches), strict=True):
            answers[request["name"]] = arrivals.final(request["name"], problem)
    return answers


def monolith_states(app_dir: Path) -> dict[str, str]:
    """The :func:`~fastsplit.fingerprint.state_digest` of each application module of the
    monolith: the probe sends back only the states that differ."""
    found = {}
    for name, module in list(sys.modules.items()):
        filename = getattr(module, "__file__", None)
        if isinstance(filename, str) and _first_party(filename, app_dir):
            found[name] = state_digest(module_state(module))
    return found


def _endpoint_module(function: Function) -> str:
    """The module of the function's first endpoint: the probe imports it once for all
    the functions that share it."""
    route = function.routes[0].slim
    return route.endpoint.module if isinstance(route, SlimRoute) else ""


# --- judging an answer --------------------------------------------------------------


def refusal(answer: dict[str, Any], spec: AppSpec, function: Function) -> str:
    """Why the rebuilt app cannot stand in for the monolith, or an empty string."""
    if "error" in answer:
        return f"the slim handler could not be proven: {answer['error']}"
    modules = {m["name"]: m for m in answer["modules"]}
    if spec.module in modules:
        chain = " → ".join(import_chain(spec.module, modules))
        return (
            f"importing what it needs loads {spec.module}, the module that assembles the "
            f"app ({chain}), so it would build every route; break that import"
        )
    changed = changed_module(answer.get("state", {}))
    if changed:
        return changed
    assert spec.slim_app is not None
    routes = [route.slim for route in function.routes]
    assert all(isinstance(route, SlimRoute) for route in routes)
    expected = expected_fingerprint(spec.slim_app, routes)  # type: ignore[arg-type]
    got = {"app": answer["app"], "routes": answer["routes"]}
    difference = first_difference(expected, got)
    if difference:
        return f"the rebuilt app differs from the monolith: {difference}"
    return ""


def changed_module(states: dict[str, dict[str, str]]) -> str:
    """How a module the handler imports differs from the same module in the monolith,
    where the module assembling the app ran (and may have changed it)."""
    for name, rebuilt in sorted(states.items()):
        module = sys.modules.get(name)
        if module is None:
            continue
        monolith = module_state(module)
        for key in sorted(set(monolith) | set(rebuilt)):
            if monolith.get(key) != rebuilt.get(key):
                ours = monolith.get(key, "unset")
                theirs = rebuilt.get(key, "unset")
                return (
                    f"{name}.{key} is {_clip(ours)} in the monolith but {_clip(theirs)} in a "
                    "one-route app: building the whole app changes it (set it where it is "
                    "defined, or in the lifespan)"
                )
    return ""


def _clip(text: str, limit: int = 80) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def first_difference(expected: Any, got: Any, path: str = "") -> str:
    """Where two JSON descriptions first differ, readably ("" when equal)."""
    if expected == got:
        return ""
    if _is_pairs(expected) and _is_pairs(got):
        expected, got = dict(expected), dict(got)
    if isinstance(expected, dict) and isinstance(got, dict):
        for key in [*expected, *(k for k in got if k not in expected)]:
            if key not in got:
                return f"{_join(path, key)} is missing"
            if key not in expected:
                return f"{_join(path, key)} is extra"
            found = first_difference(expected[key], got[key], _join(path, key))
            if found:
                return found
    if isinstance(expected, list) and isinstance(got, list) and len(expected) == len(got):
        for index, (a, b) in enumerate(zip(expected, got, strict=True)):
            found = first_difference(a, b, f"{path}[{index}]")
            if found:
                return found
    return f"{path or 'the app'}: monolith {_short(expected)}, rebuilt {_short(got)}"


def _is_pairs(value: Any) -> bool:
    return isinstance(value, list) and all(
        isinstance(item, list) and len(item) == 2 and isinstance(item[0], str) for item in value
    )


def _join(path: str, key: Any) -> str:
    return f"{path}.{key}" if path else str(key)


def _short(value: Any, limit: int = 160) -> str:
    text = json.dumps(value, sort_keys=True)
    return text if len(text) <= limit else text[: limit - 1] + "…"


# --- what the handler imports -------------------------------------------------------


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
    key = tuple(
        (m["name"], m["file"], tuple(m["path"]), m["importer"])
        if m["name"] not in OWN_MODULES
        else (m["name"], None, (), m["importer"])
        for m in loaded
        if m["name"] not in base.names
    )
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


# Every function of a big app imports mostly the same modules: what is learned about a
# module (or a set of packages) once holds for the whole build. prove_plan clears these
# caches when it starts, so that nothing is remembered from one build to the next.
@cache
def _first_party(location: str, app_dir: Path) -> bool:
    return is_first_party_file(location, app_dir)


@cache
def _kind(name: str, file: str | None, path: tuple[str, ...], app_dir: Path) -> str:
    """ "own" (an application module), "package" (third-party) or "" (Python's own)."""
    locations = (file,) if file else path
    if any(_first_party(location, app_dir) for location in locations):
        return "own"
    return "package" if locations and not _is_stdlib(name, locations) else ""


@cache
def _distributions(packages: tuple[str, ...]) -> tuple[UsedDistribution, ...]:
    return build_distributions(packages)


def _clear_caches() -> None:
    caches = (_sorted_imports, _first_party, _kind, _is_stdlib, _module_files, _distributions)
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
