"""Packaging: built functions → deployable artifacts. Knows nothing of FastAPI."""

from fastsplit.packager.deps import PackageError, Target, default_cache_dir
from fastsplit.packager.lambda_zip import Options, Result, package, read_manifest

__all__ = [
    "Options",
    "PackageError",
    "Result",
    "Target",
    "default_cache_dir",
    "package",
    "read_manifest",
]
