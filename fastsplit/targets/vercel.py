"""Vercel: a project folder, ``vercel/``, with one Python function per route.

::

    vercel/
      vercel.json            routes in the monolith's dispatch order, per-function settings
      .python-version        requirements.txt: what Vercel's Python builder installs
      api/<name>.py          one function per plan function: ``app = VercelFunction(...)``
      fastsplit_routes.py    the monolith's route table, shared by every function
      fastsplit_vercel.py    runtime support (fastsplit/vercel_runtime.py, verbatim)
      public/.fastsplit      so that Vercel publishes none of the project files as static
      <the app's own files>

Routing uses vercel.json ``routes`` (not ``rewrites``): only they can split one path by
method, and they run before Vercel's filesystem, in order, like Starlette's router. Each
FastAPI route becomes one entry whose ``src`` is the route's own Starlette pattern in the
regex syntax both Vercel's proxy (PCRE) and its CLI (JavaScript) read; a last catch-all
entry sends every other request to the ``fallback`` function, the whole app, which
answers it as the monolith does (404, 405, redirects, CORS preflights).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from importlib import resources
from typing import Any

from fastsplit import __version__
from fastsplit.errors import Diagnostic
from fastsplit.model import BuildPlan, Function, OutputFile, Route
from fastsplit.planner import CORS_MIDDLEWARE
from fastsplit.targets.vercel_paths import route_source
from fastsplit.templating import render

ROOT = "vercel"
RUNTIME_MODULE = "fastsplit_vercel.py"
ROUTES_MODULE = "fastsplit_routes.py"
SCHEMA_URL = "https://openapi.vercel.sh/vercel.json"
MAX_FUNCTION_ENTRIES = 50
"""vercel.json's ``functions`` takes at most 50 patterns (@vercel/build-utils schema)."""
MAX_PATTERN = 256
"""... each at most 256 characters long, and so is each ``excludeFiles`` glob."""
MIN_PYTHON = (3, 12)
"""Vercel's Python runtime package (vercel-runtime) needs Python 3.12 or newer."""
# Folders Vercel's Python builder never puts into a function, wherever they are.
_NEVER_SHIPPED = re.compile(r"(^|/)(public|node_modules|venv|\.venv|__pycache__|\.git)/")
LAMBDA_ONLY = ("reserved_concurrency", "provisioned_concurrency", "iam_statements")


@dataclass(frozen=True)
class Entry:
    """One route of the monolith's table, as the Vercel project routes it."""

    route: Route
    pattern: str
    """Starlette path pattern the runtime matches (a mount: ``/static/{path:path}``)."""
    methods: tuple[str, ...] | None
    """None: every method."""
    function: str | None
    """The function serving it on Vercel, or None when it is not routed."""
    source: str | None
    """The vercel.json ``src`` regex, or None when Vercel's routing cannot express it."""


class VercelTarget:
    name = "vercel"

    def render(self, plan: BuildPlan) -> list[OutputFile]:
        entries = route_table(plan)
        functions = vercel_functions(plan, entries)
        outputs = [
            OutputFile(f"{ROOT}/vercel.json", render_vercel_json(plan, entries, functions)),
            OutputFile(f"{ROOT}/.python-version", f"{python_version(plan.runtime)}\n"),
            OutputFile(f"{ROOT}/requirements.txt", render_requirements(plan)),
            OutputFile(f"{ROOT}/{RUNTIME_MODULE}", runtime_source()),
            OutputFile(f"{ROOT}/{ROUTES_MODULE}", render_routes_module(plan, entries)),
            OutputFile(f"{ROOT}/public/.fastsplit", PUBLIC_NOTE),
        ]
        for function in functions:
            outputs.append(
                OutputFile(
                    f"{ROOT}/api/{function.name}.py", render_function(plan, function, entries)
                )
            )
        files = set(plan.spec.source_files)
        for route in plan.spec.routes:
            files.update(route.assets)
        outputs.extend(OutputFile(f"{ROOT}/{path}", copy_from=path) for path in sorted(files))
        return outputs

    def diagnostics(self, plan: BuildPlan) -> tuple[Diagnostic, ...]:
        return vercel_diagnostics(plan)


PUBLIC_NOTE = (
    "Vercel publishes public/ as static files: with this folder present, it publishes\n"
    "nothing else (not the app's code). fastsplit's routes send every request to a\n"
    "function, so this file is never served.\n"
)


def runtime_source() -> str:
    return resources.files("fastsplit").joinpath("vercel_runtime.py").read_text("utf-8")


# --- routing -----------------------------------------------------------------------------


def route_table(plan: BuildPlan) -> tuple[Entry, ...]:
    """Every route of the monolith in dispatch order, with its Vercel function and src."""
    owners = _owners(plan.functions)
    entries = []
    for route in plan.spec.routes:
        pattern = route.path.rstrip("/") + "/{path:path}" if route.kind == "mount" else route.path
        source, _ = route_source(route)
        owner = owners.get(route.index)
        entries.append(
            Entry(
                route=route,
                pattern=pattern,
                methods=route.methods if route.kind != "mount" and route.methods else None,
                function=owner if source is not None else None,
                source=source,
            )
        )
    return tuple(entries)


def _owners(functions: Iterable[Function]) -> dict[int, str]:
    """Route index → the function that serves it: its own function first (a route the
    planner merged into another function's gateway route keeps its own, if it has one)."""
    owners: dict[int, str] = {}
    functions = [f for f in functions if f.kind != "fallback"]
    for function in functions:
        if function.routes:
            owners.setdefault(function.routes[0].index, function.name)
    for function in functions:
        for route in function.routes:
            owners.setdefault(route.index, function.name)
    return owners


def vercel_routes(plan: BuildPlan, entries: Sequence[Entry]) -> list[dict[str, Any]]:
    """vercel.json ``routes``: one per routed FastAPI route in dispatch order, then the
    catch-all to the fallback. With CORSMiddleware, the first route of each path also
    takes ``OPTIONS``, so preflights reach a function that has the middleware."""
    cors = CORS_MIDDLEWARE in plan.spec.middleware
    routes: list[dict[str, Any]] = []
    preflight_paths: set[str] = set()
    for entry in entries:
        if entry.function is None or entry.source is None:
            continue
        route: dict[str, Any] = {"src": entry.source, "dest": f"/api/{entry.function}"}
        if entry.methods is not None:
            methods = list(entry.methods)
            if cors and entry.pattern not in preflight_paths and "OPTIONS" not in methods:
                methods.append("OPTIONS")
            route["methods"] = methods
        preflight_paths.add(entry.pattern)
        route["caseSensitive"] = True
        routes.append(route)
    if any(function.kind == "fallback" for function in plan.functions):
        routes.append({"src": "^/.*$", "dest": "/api/fallback"})
    return routes


# --- functions ---------------------------------------------------------------------------


def vercel_functions(plan: BuildPlan, entries: Sequence[Entry]) -> tuple[Function, ...]:
    """The plan's functions that Vercel routes requests to (and the fallback)."""
    routed = {entry.function for entry in entries if entry.function is not None}
    return tuple(f for f in plan.functions if f.kind == "fallback" or f.name in routed)


def function_settings(functions: Sequence[Function]) -> dict[str, dict[str, Any]]:
    """vercel.json ``functions``: memory, maxDuration and excludeFiles per function.

    One entry per function while they fit in the 50 entries vercel.json allows; beyond
    that, one entry per distinct memory and timeout, whose pattern selects exactly its
    functions (:func:`_groups`), and whose functions carry each other's (small) entry
    points.
    """
    if len(functions) <= MAX_FUNCTION_ENTRIES:
        return {
            _names_glob([f.name]): {**_limits(f), "excludeFiles": _other_than([f.name])}
            for f in functions
        }
    names = [function.name for function in functions]
    return {_glob(group, names): _settings(group, names) for group in _groups(functions)}


def _groups(functions: Sequence[Function]) -> list[list[Function]]:
    """The functions by settings. A settings' functions share one entry when a pattern
    of at most 256 characters selects exactly them (all functions: ``api/*.py``; a list
    of them, or of all the others); otherwise (hundreds of functions in each of several
    settings) they take several entries, each a list short enough."""
    by_settings: dict[tuple[int, int], list[Function]] = {}
    for function in functions:
        key = (function.settings.memory, function.settings.timeout)
        by_settings.setdefault(key, []).append(function)
    names = [function.name for function in functions]
    groups: list[list[Function]] = []
    for members in by_settings.values():
        if len(_glob(members, names)) <= MAX_PATTERN:
            groups.append(members)
            continue
        group: list[Function] = []
        for function in members:
            if group and len(_names_glob([f.name for f in [*group, function]])) > MAX_PATTERN:
                groups.append(group)
                group = []
            group.append(function)
        groups.append(group)
    return groups


def _glob(group: Sequence[Function], names: Sequence[str]) -> str:
    """The shortest pattern that selects the group's entry points among all of them."""
    members = [function.name for function in group]
    if len(members) == len(names):
        return "api/*.py"
    chosen = {function.name for function in group}
    others = [name for name in names if name not in chosen]
    return min(_names_glob(members), _other_than(others), key=len)


def _names_glob(names: Sequence[str]) -> str:
    if len(names) == 1:
        return f"api/{names[0]}.py"
    return "api/{" + ",".join(names) + "}.py"


def _other_than(names: Sequence[str]) -> str:
    """Every entry point but these (an extglob: ``api/!(get_user).py``)."""
    return "api/!(" + "|".join(names) + ").py"


def _settings(group: Sequence[Function], names: Sequence[str]) -> dict[str, Any]:
    """The entry's settings; ``excludeFiles`` leaves out every other function's entry
    point (or lists them, when that is shorter). When neither fits in 256 characters
    there is none: each function of the entry then also carries the other functions'
    entry points (a few KB each, never imported)."""
    entry = _limits(group[0])
    members = [function.name for function in group]
    chosen = set(members)
    others = [name for name in names if name not in chosen]
    exclude = min(_other_than(members), _names_glob(others) if others else "", key=len)
    if exclude and len(exclude) <= MAX_PATTERN:
        entry["excludeFiles"] = exclude
    return entry


def _limits(function: Function) -> dict[str, Any]:
    return {"memory": function.settings.memory, "maxDuration": function.settings.timeout}


def render_vercel_json(
    plan: BuildPlan, entries: Sequence[Entry], functions: Sequence[Function]
) -> str:
    document = {
        "$schema": SCHEMA_URL,
        "framework": None,
        "functions": function_settings(functions),
        "routes": vercel_routes(plan, entries),
    }
    return json.dumps(document, sort_keys=True, indent=2, ensure_ascii=False) + "\n"


# --- generated Python and text -------------------------------------------------------------


def render_function(plan: BuildPlan, function: Function, entries: Sequence[Entry]) -> str:
    spec = plan.spec
    return render(
        "vercel_function.py.jinja",
        version=__version__,
        app_ref=spec.app,
        function=function,
        serves=[entry for entry in entries if entry.function == function.name],
        app_import=f"from {spec.module} import {spec.attribute} as monolith",
        environment=function.settings.environment,
    )


def render_routes_module(plan: BuildPlan, entries: Sequence[Entry]) -> str:
    return render(
        "vercel_routes.py.jinja", version=__version__, app_ref=plan.spec.app, entries=entries
    )


def render_requirements(plan: BuildPlan) -> str:
    lines = list(plan.requirements)
    if not any(_requirement_name(line) in ("fastapi", "starlette") for line in lines):
        lines.append("fastapi")
    header = (
        f"# The requirements of {plan.spec.app}, installed by Vercel's Python builder.\n"
        "# Generated by fastsplit; do not edit, rebuild instead.\n"
    )
    return header + "".join(f"{line}\n" for line in lines)


def _requirement_name(line: str) -> str:
    match = re.match(r"\s*([A-Za-z0-9][A-Za-z0-9._-]*)", line)
    return re.sub(r"[-_.]+", "-", match.group(1)).lower() if match else ""


def python_version(runtime: str) -> str:
    """``python3.13`` → ``3.13``; versions Vercel cannot run become 3.12."""
    major, _, minor = runtime.removeprefix("python").partition(".")
    version = (int(major), int(minor))
    return "{}.{}".format(*max(version, MIN_PYTHON))


# --- diagnostics -------------------------------------------------------------------------


def vercel_diagnostics(plan: BuildPlan) -> tuple[Diagnostic, ...]:
    """What the Vercel project cannot do as the plan says, route by route."""
    diagnostics = []
    served = {route.index for function in plan.functions for route in function.routes}
    for route in plan.spec.routes:
        if route.index not in served:
            continue
        source, reason = route_source(route)
        if source is None:
            diagnostics.append(
                Diagnostic("warning", route.key, f"Vercel: {reason}; not routed on Vercel")
            )
    spec = plan.spec
    if any(module.split("/")[0].removesuffix(".py") == "api" for module in spec.source_modules):
        diagnostics.append(
            Diagnostic(
                "error",
                spec.app,
                "Vercel: the app's top-level module 'api' would clash with the project's "
                "api/ folder of functions; rename the module or build with --target lambda",
            )
        )
    hidden = [path for path in spec.source_files if _NEVER_SHIPPED.search(path)]
    if hidden:
        diagnostics.append(
            Diagnostic(
                "warning",
                spec.app,
                f"Vercel: {len(hidden)} app file(s) such as {hidden[0]!r} are in a folder "
                "Vercel's Python builder never ships (public/, venv/, node_modules/, "
                "__pycache__/); functions will miss them",
            )
        )
    if python_version(plan.runtime) != plan.runtime.removeprefix("python"):
        diagnostics.append(
            Diagnostic(
                "warning",
                "options",
                f"Vercel: runtime {plan.runtime} is older than the Python 3.12 that Vercel's "
                "Python runtime needs; the Vercel functions use Python 3.12",
            )
        )
    entries = route_table(plan)
    functions = vercel_functions(plan, entries)
    patterns = function_settings(functions)
    if len(patterns) > MAX_FUNCTION_ENTRIES:
        kinds = len({(f.settings.memory, f.settings.timeout) for f in functions})
        why = (
            f"one per distinct memory and timeout ({kinds})"
            if kinds == len(patterns)
            else f"for {kinds} distinct memory and timeout settings, since a 256-character "
            "pattern cannot select the functions of each"
        )
        diagnostics.append(
            Diagnostic(
                "error",
                spec.app,
                f"Vercel: the functions need {len(patterns)} vercel.json `functions` entries, "
                f"{why}, more than the {MAX_FUNCTION_ENTRIES} Vercel takes; give more routes "
                "the same memory and timeout",
            )
        )
    diagnostics.extend(_ignored_settings(plan.functions))
    return tuple(diagnostics)


def _ignored_settings(functions: Sequence[Function]) -> list[Diagnostic]:
    """One info per Lambda setting the Vercel functions run without."""
    users: dict[str, list[str]] = {}
    for function in functions:
        for key in LAMBDA_ONLY:
            if getattr(function.settings, key):
                users.setdefault(key, []).append(function.name)
        if function.settings.architecture != "x86_64":
            users.setdefault("architecture", []).append(function.name)
    diagnostics = []
    for key, names in users.items():
        shown = ", ".join(names[:3]) + (f" and {len(names) - 3} more" if len(names) > 3 else "")
        diagnostics.append(
            Diagnostic(
                "info",
                key,
                f"the Vercel functions have no such setting and run without it ({shown})",
            )
        )
    return diagnostics
