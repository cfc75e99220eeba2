"""fastsplit: split a FastAPI app into per-route serverless functions.

The public Python API mirrors the CLI: :func:`load_app_spec` (parse), :func:`plan_build`
(names and settings), :func:`prove_plan` (the build-time proof of slim functions) and
:func:`render_build` (generated files).

The names are imported on first use: the build-time proof imports parts of fastsplit in
every probe process, which should not pay for the templates and YAML of the rest.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

_API = {
    "AppSpec": "fastsplit.model",
    "BuildPlan": "fastsplit.model",
    "Config": "fastsplit.config",
    "Diagnostic": "fastsplit.errors",
    "FastsplitError": "fastsplit.errors",
    "Function": "fastsplit.model",
    "Route": "fastsplit.model",
    "load_app_spec": "fastsplit.parser",
    "load_config": "fastsplit.config",
    "plan_build": "fastsplit.planner",
    "prove_plan": "fastsplit.prove",
    "render_build": "fastsplit.generator",
}

if TYPE_CHECKING:
    from fastsplit.config import Config, load_config
    from fastsplit.errors import Diagnostic, FastsplitError
    from fastsplit.generator import render_build
    from fastsplit.model import AppSpec, BuildPlan, Function, Route
    from fastsplit.parser import load_app_spec
    from fastsplit.planner import plan_build
    from fastsplit.prove import prove_plan


def __getattr__(name: str) -> Any:
    if name not in _API:
        raise AttributeError(f"module 'fastsplit' has no attribute {name!r}")
    return getattr(importlib.import_module(_API[name]), name)


__all__ = [
    "AppSpec",
    "BuildPlan",
    "Config",
    "Diagnostic",
    "FastsplitError",
    "Function",
    "Route",
    "__version__",
    "load_app_spec",
    "load_config",
    "plan_build",
    "prove_plan",
    "render_build",
]
