"""Render a build plan into files: pure, no I/O, never imports the user's app.

The result is a sorted tuple of :class:`OutputFile`: generated text, or an instruction
to copy one of the app's own files (which the writer carries out).
"""

from __future__ import annotations

import json
from collections.abc import Collection
from dataclasses import replace
from importlib import resources
from operator import attrgetter
from pathlib import Path
from typing import Any

from fastsplit import __version__, pysource
from fastsplit.background import Background
from fastsplit.errors import BuildError, Diagnostic
from fastsplit.model import BuildPlan, Call, Const, Expr, Function, Ref
from fastsplit.model import OutputFile as OutputFile  # defined with the model, used from here
from fastsplit.targets import PLATFORMS, Target
from fastsplit.templating import render

RUNTIME_MODULE = "fastsplit_runtime.py"
IMPORTS_FILE = "imports.json"
# Names a slim handler defines itself: imports of the app's names never take them.
SLIM_RESERVED = (
    "app",
    "handler",
    "os",
    "sys",
    "LambdaFunction",
    "defer_pydantic_v1_import",
    "_FUNCTION_ROOT",
)
NOQA = "  # noqa: E402"
# From this many functions, the manifest and imports.json are made on another core.
BACKGROUND_DOCUMENTS = 100


def runtime_source() -> str:
    return resources.files("fastsplit").joinpath("runtime.py").read_text(encoding="utf-8")


def function_files(plan: BuildPlan, function: Function) -> tuple[str, ...]:
    """The files of a function folder, relative to it (the manifest lists them)."""
    files = {"handler.py", RUNTIME_MODULE}
    if function.mode == "slim":
        files.update(_proven(function).files)
    elif function.mode == "full":
        files.update(plan.spec.full_files)
    return tuple(sorted(files))


def render_build(
    plan: BuildPlan, *, platforms: Collection[str] = ("lambda",)
) -> tuple[OutputFile, ...]:
    """Every file of ``build/`` for ``platforms`` (names in :data:`PLATFORMS`): Lambda's
    function folders, each platform's deploy configs and projects, and the manifest."""
    outputs: list[OutputFile] = []
    # The manifest and imports.json (pretty JSON: Python's slow encoder) of a big build
    # are made in a forked child while the handlers and deploy configs are rendered here.
    documents = Background(
        lambda: [render_manifest(plan), render_imports(plan)],
        fork=len(plan.functions) >= BACKGROUND_DOCUMENTS,
    )
    if "lambda" in platforms:
        runtime = runtime_source()
        for function in plan.functions:
            folder = function.folder
            outputs.append(OutputFile(f"{folder}/handler.py", render_handler(plan, function)))
            outputs.append(OutputFile(f"{folder}/{RUNTIME_MODULE}", runtime))
            outputs.extend(
                OutputFile(f"{folder}/{relative}", copy_from=relative)
                for relative in function_files(plan, function)
                if relative not in ("handler.py", RUNTIME_MODULE)
            )
    for target in _targets(platforms):
        outputs.extend(
            item if isinstance(item, OutputFile) else OutputFile(*item)
            for item in target.render(plan)
        )
    manifest, imports = documents.result()
    outputs.append(OutputFile("manifest.json", manifest))
    outputs.append(OutputFile(IMPORTS_FILE, imports))
    return tuple(sorted(outputs, key=attrgetter("path")))


def with_target_diagnostics(plan: BuildPlan, *, platforms: Collection[str]) -> BuildPlan:
    """``plan`` with the findings of the targets of ``platforms`` added (what they cannot
    express, such as a route Vercel cannot route)."""
    found: list[Diagnostic] = []
    for target in _targets(platforms):
        check = getattr(target, "diagnostics", None)  # optional: only some targets check
        if check is not None:
            found.extend(check(plan))
    if not found:
        return plan
    rank = {"error": 0, "warning": 1, "info": 2}
    merged = sorted(
        set(plan.diagnostics) | set(found), key=lambda d: (rank[d.level], d.where, d.message)
    )
    return replace(plan, diagnostics=tuple(merged))


def _targets(platforms: Collection[str]) -> list[Target]:
    unknown = sorted(set(platforms) - set(PLATFORMS))
    if unknown:
        raise ValueError(f"unknown platform(s) {', '.join(unknown)}; known: {', '.join(PLATFORMS)}")
    return [target for name in PLATFORMS if name in platforms for target in PLATFORMS[name]]


def render_handler(plan: BuildPlan, function: Function) -> str:
    common = {"version": __version__, "app_ref": plan.spec.app, "function": function}
    if function.mode == "standalone":
        return render(
            "fallback.py.jinja",
            routes=plan.fallback_routes,
            redirect_slashes=plan.spec.redirect_slashes,
            **common,
        )
    if function.mode == "slim":
        return render("slim_handler.py.jinja", **slim_handler_parts(plan, function), **common)
    spec = plan.spec
    app_import = f"from {spec.module} import {spec.attribute}"
    if spec.attribute != "app":
        app_import += " as app"
    return render("handler.py.jinja", app_import=app_import, **common)


def slim_handler_parts(plan: BuildPlan, function: Function) -> dict[str, Any]:
    """The lines of a slim handler: imports, ``app = FastAPI(...)``, the overrides and
    one ``add_api_route(...)`` per route, from the recorded recipes."""
    slim_app = plan.spec.slim_app
    assert slim_app is not None, "a slim function needs the app's recipe"
    app_call = Call(slim_app.factory, (), (*slim_app.kwargs, ("openapi_url", Const(None))))
    route_calls = []
    for route in function.routes:
        assert route.slim is not None, f"{route.key} has no recipe"
        target = "app.router.add_api_route" if route.slim.via_router else "app.add_api_route"
        route_calls.append(
            Call(Ref("", target), (Const(route.path), route.slim.endpoint), route.slim.kwargs)
        )
    overrides = slim_app.dependency_overrides
    values: list[Expr] = [app_call, *route_calls]
    values += [item for pair in overrides for item in pair]
    names = pysource.Names(
        (ref for ref in pysource.refs_in(values) if ref.module), reserved=SLIM_RESERVED
    )
    own = {Path(top).stem for top in plan.spec.source_modules}
    framework = [i for i in names.imports if i.module.split(".")[0] not in own]
    application = [i for i in names.imports if i.module.split(".")[0] in own]
    # The template imports fastsplit_runtime (and defers pydantic.v1) first.
    imports = pysource.import_lines(framework, suffix=NOQA)
    if application:
        imports += ["", *pysource.import_lines(application, suffix=NOQA)]
    override_lines = []
    for key, value in overrides:
        prefix = f"app.dependency_overrides[{pysource.inline(key, names)}] = "
        override_lines += pysource.statement(prefix, value, names)
    route_lines = [line for call in route_calls for line in pysource.statement("", call, names)]
    return {
        "app_module": plan.spec.module,
        "imports": imports,
        "app_lines": pysource.statement("app = ", app_call, names),
        "override_lines": override_lines,
        "route_lines": route_lines,
    }


def _proven(function: Function) -> Any:
    if function.imports is None:
        raise BuildError(
            f"function {function.name} is slim but unproven; run the build-time proof "
            "(fastsplit.prove.prove_plan) before rendering"
        )
    return function.imports


def manifest_data(plan: BuildPlan) -> dict[str, Any]:
    """The machine-readable description of the build (also read by later commands)."""
    return {
        "app": plan.spec.app,
        "fastsplit_version": __version__,
        "service": plan.service,
        "stage": plan.stage,
        "region": plan.region,
        "runtime": plan.runtime,
        "functions": [
            {
                "name": function.name,
                "kind": function.kind,
                "logical_id": function.logical_id,
                "folder": function.folder,
                "handler": "handler.handler",
                "description": function.description,
                "routes": [
                    {
                        "methods": list(route.methods),
                        "path": route.path,
                        "name": route.name,
                        "endpoint": route.endpoint,
                        "operation_id": route.operation_id,
                        "tags": list(route.tags),
                        "params": {param.name: param.converter for param in route.params},
                    }
                    for route in function.routes
                ],
                "events": [
                    {"method": event.method, "path": event.path} for event in function.events
                ],
                "settings": function.settings.as_dict(),
                "mode": function.mode,
                **({"not_slim": function.not_slim} if function.not_slim else {}),
                **({"slim_include": list(function.slim_include)} if function.slim_include else {}),
                **({"slim_exclude": list(function.slim_exclude)} if function.slim_exclude else {}),
                "files": list(function_files(plan, function)),
            }
            for function in plan.functions
        ],
        "diagnostics": [
            {"level": d.level, "where": d.where, "message": d.message} for d in plan.diagnostics
        ],
    }


def render_manifest(plan: BuildPlan) -> str:
    return json.dumps(manifest_data(plan), sort_keys=True, indent=2, ensure_ascii=False) + "\n"


def imports_data(plan: BuildPlan) -> dict[str, Any]:
    """What each slim function imports and why (the import chains), as the proof recorded
    it in the build environment: what ``fastsplit package`` ships, what ``explain`` says."""
    functions = {}
    for function in plan.functions:
        if function.mode != "slim":
            continue
        imports = _proven(function)
        functions[function.name] = {
            "modules": {m.name: list(m.chain) for m in imports.modules},
            "packages": {m.name: list(m.chain) for m in imports.packages},
            "distributions": {
                d.name: {
                    "version": d.version,
                    **({"packages": list(d.packages)} if d.packages else {}),
                    **({"required_by": d.required_by} if d.required_by else {}),
                }
                for d in imports.distributions
            },
            "include": list(imports.include),
            "exclude": list(imports.exclude),
        }
    return {"app": plan.spec.app, "fastsplit_version": __version__, "functions": functions}


def render_imports(plan: BuildPlan) -> str:
    return json.dumps(imports_data(plan), sort_keys=True, indent=2, ensure_ascii=False) + "\n"
