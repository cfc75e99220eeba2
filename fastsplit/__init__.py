"""fastsplit: split a FastAPI app into per-route serverless functions.

The public Python API mirrors the CLI: :func:`load_app_spec` (parse), :func:`plan_build`
(names and settings) and :func:`render_build` (generated files).
"""

__version__ = "0.1.0"

from fastsplit.config import Config, load_config
from fastsplit.errors import Diagnostic, FastsplitError
from fastsplit.generator import render_build
from fastsplit.model import AppSpec, BuildPlan, Function, Route
from fastsplit.parser import load_app_spec
from fastsplit.planner import plan_build

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
    "render_build",
]
