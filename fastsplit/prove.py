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
import subprocess
import sys
import sysconfig
import tempfile
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor, wait
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, replace
from functools import cache
from importlib import metadata
from pathlib import Path
from typing import Any

import fastsplit
from fastsplit.fingerprint import expected_fingerprint, module_state, state_digest
from fastsplit.generator import render_handler, runtime_source
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
from fastsplit.sources import is_first_party_file, list_files

PROBE = Path(__file__).with_name("probe.py")
HANDLER = "handler"
OWN_MODULES = frozenset({HANDLER, "fastsplit_runtime"})
TIMEOUT = 300.0
ARRIVALS = 0.02  # seconds between looks for new answers
RETRY = "retry"  # fastsplit.probe.RETRY: a placeholder answer, to be replaced


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
    imports = record_imports(answer["modules"], function, app_dir=app_dir)
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
        if ahead is None or ahead.used:
            ahead = stack.enter_context(proof_ahead(app_dir))
        ahead.used = True
        root, first = ahead.root, ahead.process
        forks = first is not None
        requests = []
        for function in functions:
            answer = root / "answers" / f"{function.name}.json"
            requests.append(
                {
                    "name": function.name,
                    # The probe writes the handler into its folder as it proves it.
                    "dir": str(root / "functions" / function.name),
                    "source": render_handler(plan, function),
                    "answer": str(answer),
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
        batches = [requests] if forks else [[request] for request in requests]
        arrivals = _Arrivals(requests, prelude_answer)
        with ThreadPoolExecutor(max_workers=1 if len(batches) == 1 else jobs) as pool:
            running = [pool.submit(_run, {**base, "functions": batch}, first) for batch in batches]
            while on_answer is not None and wait(running, timeout=ARRIVALS).not_done:
                for arrived in arrivals.new():
                    on_answer(*arrived)
            problems = [future.result() for future in running]
        prelude = _read_prelude(prelude_answer)
        answers = {}
        for request, problem in zip(requests, _spread(problems, batches), strict=True):
            name = request["name"]
            answers[name] = arrivals.final(name) or _read_answer(
                Path(request["answer"]), problem, prelude
            )
    return answers


class _Arrivals:
    """The answers the probe has written so far (each once; "retry" answers are only
    placeholders, replaced by a proof from scratch)."""

    def __init__(self, requests: list[dict[str, Any]], prelude: Path) -> None:
        self._waiting = {Path(r["answer"]).name: r["name"] for r in requests}
        self._folder = prelude.parent
        self._prelude_path = prelude
        self._prelude: list[dict[str, Any]] | None = None
        self._seen: dict[str, tuple[dict[str, Any], Path, tuple[int, int, int]]] = {}

    def new(self) -> list[tuple[str, dict[str, Any]]]:
        found = []
        for entry in os.scandir(self._folder):
            name = self._waiting.get(entry.name)
            if name is None:
                continue
            path = Path(entry.path)
            try:
                version = _version_of(path)
                data = json.loads(path.read_text("utf-8"))
            except (OSError, ValueError):
                continue
            if RETRY in data:
                continue
            if self._prelude is None and data.get("prelude"):
                self._prelude = _read_prelude(self._prelude_path)
            answer = _answer(data, "", self._prelude)
            del self._waiting[entry.name]
            self._seen[name] = answer, path, version
            found.append((name, answer))
        return found

    def final(self, name: str) -> dict[str, Any] | None:
        """The answer seen for ``name`` if its file is still the one read."""
        seen = self._seen.get(name)
        if seen is None:
            return None
        answer, path, version = seen
        try:
            return answer if _version_of(path) == version else None
        except OSError:
            return None


def _version_of(path: Path) -> tuple[int, int, int]:
    """Which answer a file holds: the probe replaces an answer with a new file."""
    stat = path.stat()
    return stat.st_ino, stat.st_mtime_ns, stat.st_size


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


@dataclass
class ProofAhead:
    """The proof's folder (with the runtime module) and, where there is fork, the probe
    process that proves every function, already importing what every handler starts
    with. Used by one proof."""

    root: Path
    process: subprocess.Popen[str] | None
    used: bool = False


@contextmanager
def proof_ahead(app_dir: Path) -> Iterator[ProofAhead]:
    """Start the proof: its probe imports fastapi while the caller goes on (describing
    the app, writing the handlers). Everything is removed, and the probe stopped, on
    the way out."""
    with tempfile.TemporaryDirectory(prefix="fastsplit-proof-") as tmp, ExitStack() as stack:
        root = Path(tmp)
        (root / "runtime").mkdir()
        (root / "runtime" / "fastsplit_runtime.py").write_text(runtime_source(), "utf-8")
        # With fork, one interpreter imports what every handler starts with, then forks;
        # without, every function gets its own process (started as it is proven).
        process = None
        if hasattr(os, "fork"):
            process = stack.enter_context(_start(root / "runtime", app_dir.resolve()))
        yield ProofAhead(root, process)


@contextmanager
def _start(runtime_dir: Path, app_dir: Path) -> Iterator[subprocess.Popen[str]]:
    """A probe process, importing what every handler starts with until its request
    comes; killed on the way out if it is still running (the build failed meanwhile)."""
    # -P: the probe's folder (fastsplit's own) must not shadow the app's modules.
    command = [sys.executable, "-B", "-P", str(PROBE), str(runtime_dir), str(app_dir)]
    process = subprocess.Popen(
        command,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        yield process
    finally:
        if process.poll() is None:
            process.kill()
        process.communicate()


def _run(request: dict[str, Any], process: subprocess.Popen[str] | None = None) -> str:
    """Send the probe (``process``, or a new one) its request and wait for it: an empty
    string, or what went wrong with the probe itself."""
    if process is None:
        runtime_dir, app_dir = Path(request["runtime_dir"]), Path(request["app_dir"])
        with _start(runtime_dir, app_dir) as started:
            return _run(request, started)
    rounds = len(request["functions"]) // request["jobs"] + 2
    try:
        _, stderr = process.communicate(json.dumps(request), timeout=TIMEOUT * rounds)
    except subprocess.TimeoutExpired:
        process.kill()
        process.communicate()
        return "the proof timed out"
    if process.returncode != 0:
        lines = (stderr.strip() or "no output").splitlines()
        return f"the proof process failed: {lines[-1]}"
    return ""


def _spread(problems: list[str], batches: list[list[dict[str, str]]]) -> Iterable[str]:
    for problem, batch in zip(problems, batches, strict=True):
        yield from [problem] * len(batch)


def _read_prelude(path: Path) -> list[dict[str, Any]] | None:
    """The modules every handler loads first, which answers that say ``prelude`` leave
    out (None when the probe did not write them)."""
    try:
        modules: list[dict[str, Any]] = json.loads(path.read_text("utf-8"))["modules"]
    except (OSError, ValueError, KeyError):
        return None
    return modules


def _read_answer(
    path: Path, problem: str, prelude: list[dict[str, Any]] | None = None
) -> dict[str, Any]:
    try:
        answer: dict[str, Any] = json.loads(path.read_text("utf-8"))
    except (OSError, ValueError):
        return {"error": problem or "the proof gave no answer"}
    return _answer(answer, problem, prelude)


def _answer(
    answer: dict[str, Any], problem: str, prelude: list[dict[str, Any]] | None
) -> dict[str, Any]:
    if "error" not in answer and "modules" not in answer:
        return {"error": problem or "the proof gave no answer"}
    if answer.pop("prelude", False) and "modules" in answer:
        if prelude is None:
            return {"error": problem or "the proof did not list the modules all handlers load"}
        answer["modules"] = sorted([*prelude, *answer["modules"]], key=lambda m: m["name"])
    return answer


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


def record_imports(loaded: list[dict[str, Any]], function: Function, *, app_dir: Path) -> Imports:
    """Sort what the handler's import loaded into application modules (whose files the
    function carries) and third-party packages (whose distributions it needs)."""
    # Functions of one endpoint module load the same modules, as a rule: sort them once
    # (the files of the handler's own modules, in its folder, are never in the result).
    key = tuple(
        (m["name"], m["file"], tuple(m["path"]), m["importer"])
        if m["name"] not in OWN_MODULES
        else (m["name"], None, (), m["importer"])
        for m in loaded
    )
    return _sorted_imports(key, function.slim_include, function.slim_exclude, app_dir)


@cache
def _sorted_imports(
    loaded: tuple[tuple[str, str | None, tuple[str, ...], str | None], ...],
    slim_include: tuple[str, ...],
    slim_exclude: tuple[str, ...],
    app_dir: Path,
) -> Imports:
    modules: dict[str, dict[str, Any]] = {
        name: {"name": name, "file": file, "path": path, "importer": importer}
        for name, file, path, importer in loaded
    }
    own: list[ImportedModule] = []
    files: set[str] = set()
    packages: dict[str, ImportedModule] = {}
    for name, file, path, _ in sorted(loaded):
        if name in OWN_MODULES or name == "__main__":
            continue
        kind = _kind(name, file, path, app_dir)
        if kind == "own":
            own.append(ImportedModule(name, import_chain(name, modules)))
            files.update(_module_files(file, app_dir))
        elif kind == "package":
            key = _package_key(name, modules)
            if key not in packages:
                chain = import_chain(key if key in modules else name, modules)
                packages[key] = ImportedModule(key, chain)
    included, other_include = _named_files(slim_include, app_dir)
    excluded, other_exclude = _named_files(slim_exclude, app_dir)
    return Imports(
        modules=tuple(own),
        files=tuple(sorted(files.union(included).difference(excluded))),
        packages=tuple(sorted(packages.values(), key=lambda m: m.name)),
        distributions=_distributions(tuple(sorted(packages))),
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
