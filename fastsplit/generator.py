"""Render a build plan into files: pure, no I/O, never imports the user's app.

The result is a sorted tuple of :class:`OutputFile`: generated text, or an instruction
to copy one of the app's own files (which the writer carries out).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from importlib import resources
from typing import Any

from fastsplit import __version__
from fastsplit.model import BuildPlan, Function
from fastsplit.targets import TARGETS
from fastsplit.templating import render

RUNTIME_MODULE = "fastsplit_runtime.py"


@dataclass(frozen=True)
class OutputFile:
    """A file of the build, relative to the output folder."""

    path: str
    text: str | None = None
    copy_from: str | None = None
    """For the app's own files: the path relative to the app folder to copy."""


def runtime_source() -> str:
    return resources.files("fastsplit").joinpath("runtime.py").read_text(encoding="utf-8")


def function_files(plan: BuildPlan, function: Function) -> tuple[str, ...]:
    """The files of a function folder, relative to it (the manifest lists them)."""
    files = {"handler.py", RUNTIME_MODULE}
    if function.kind != "fallback":
        files.update(plan.spec.source_files)
        # Every function imports the whole app, whose mounts check their folders.
        files.update(asset for route in plan.spec.routes for asset in route.assets)
    return tuple(sorted(files))


def render_build(plan: BuildPlan) -> tuple[OutputFile, ...]:
    """Every file of ``build/``: function folders, deploy configs and the manifest."""
    outputs: list[OutputFile] = []
    runtime = runtime_source()
    for function in plan.functions:
        outputs.append(OutputFile(f"{function.folder}/handler.py", render_handler(plan, function)))
        outputs.append(OutputFile(f"{function.folder}/{RUNTIME_MODULE}", runtime))
        for relative in function_files(plan, function):
            if relative not in ("handler.py", RUNTIME_MODULE):
                outputs.append(OutputFile(f"{function.folder}/{relative}", copy_from=relative))
    for target in TARGETS:
        outputs.extend(OutputFile(path, text) for path, text in target.render(plan))
    outputs.append(OutputFile("manifest.json", render_manifest(plan)))
    return tuple(sorted(outputs, key=lambda output: output.path))


def render_handler(plan: BuildPlan, function: Function) -> str:
    common = {"version": __version__, "app_ref": plan.spec.app, "function": function}
    if function.kind == "fallback":
        return render(
            "fallback.py.jinja",
            routes=plan.fallback_routes,
            redirect_slashes=plan.spec.redirect_slashes,
            **common,
        )
    spec = plan.spec
    app_import = f"from {spec.module} import {spec.attribute}"
    if spec.attribute != "app":
        app_import += " as app"
    return render("handler.py.jinja", app_import=app_import, **common)


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
