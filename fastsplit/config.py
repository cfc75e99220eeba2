"""Configuration: ``[tool.fastsplit]`` in pyproject.toml, then command-line flags.

Everything ends up in one frozen :class:`Config`. Per-function deployment settings
(memory, timeout, ...) are validated here too, wherever they come from, so every
source gets the same clear error naming the route or the file.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any

from fastsplit.errors import ConfigError

MODES = ("slim", "full")
RUNTIMES = ("python3.10", "python3.11", "python3.12", "python3.13", "python3.14")
ARCHITECTURES = ("x86_64", "arm64")
MEMORY_RANGE = (128, 10240)
TIMEOUT_RANGE = (1, 900)
NAME_RE = re.compile(r"^[a-z_][a-z0-9_]*$")
SERVICE_RE = re.compile(r"^[a-zA-Z][a-zA-Z0-9-]*$")
STAGE_RE = re.compile(r"^[a-zA-Z0-9]+$")
REGION_RE = re.compile(r"^[a-z]{2}(-gov)?-[a-z]+-\d$")
ENV_NAME_RE = re.compile(r"^[a-zA-Z][a-zA-Z0-9_]*$")
# A module (``app.plugins.csv``) or a distribution (``python-dateutil``) name.
IMPORT_NAME_RE = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]*$")
# Lambda sets these itself and rejects functions that try to.
RESERVED_ENV = frozenset(
    {
        "_HANDLER",
        "AWS_REGION",
        "AWS_EXECUTION_ENV",
        "AWS_LAMBDA_FUNCTION_NAME",
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE",
        "AWS_LAMBDA_FUNCTION_VERSION",
        "AWS_LAMBDA_RUNTIME_API",
        "LAMBDA_TASK_ROOT",
        "LAMBDA_RUNTIME_DIR",
    }
)

# Keys a route may set (per-route table in pyproject or openapi_extra["x-fastsplit"]).
ROUTE_SETTING_KEYS = (
    "name",
    "memory",
    "timeout",
    "architecture",
    "environment",
    "reserved_concurrency",
    "provisioned_concurrency",
    "iam_statements",
    "mode",
    "slim_include",
    "slim_exclude",
)


@dataclass(frozen=True)
class Config:
    """Every setting of one run. Field defaults are fastsplit's defaults."""

    app: str | None = None
    app_dir: Path = Path(".")
    out: Path = Path("build")
    service: str | None = None
    """Service/stack name; defaults to a slug of the app's title."""
    stage: str = "dev"
    region: str = "us-east-1"
    runtime: str = "python3.12"
    architecture: str = "x86_64"
    memory: int = 512
    timeout: int = 29
    environment: tuple[tuple[str, str], ...] = ()
    reserved_concurrency: int | None = None
    provisioned_concurrency: int | None = None
    iam_statements: tuple[dict[str, Any], ...] = field(default=(), hash=False)
    docs: bool = True
    fallback: bool = True
    strict: bool = False
    routes: tuple[tuple[str, dict[str, Any]], ...] = field(default=(), hash=False)
    """Per-route settings from pyproject: (glob, settings) in file order."""
    dist: Path = Path("dist")
    """Where ``fastsplit package`` writes (``dist/lambda``)."""
    requirements: Path | None = None
    """The requirements file for packaging (default: requirements.txt or pyproject)."""
    exclude: tuple[str, ...] = ()
    """Glob patterns of files never to package."""
    mode: str = "slim"
    """slim: each route function imports only what its route needs (proven at build
    time, else full); full: every function imports the whole app."""
    slim_include: tuple[str, ...] = ()
    """Modules or distributions every slim function ships although its handler does not
    import them (dynamic imports)."""
    slim_exclude: tuple[str, ...] = ()
    """Modules or distributions no slim function ships, although its handler imports them."""

    def with_overrides(self, **flags: Any) -> Config:
        """Apply command-line flags; ``None`` means "not given" and keeps the file value."""
        given = {key: value for key, value in flags.items() if value is not None}
        unknown = set(given) - {f.name for f in fields(self)}
        if unknown:
            raise ConfigError(f"unknown option(s): {', '.join(sorted(unknown))}")
        updated = replace(self, **given)
        validate_global(updated)
        return updated


def load_config(project_dir: Path) -> Config:
    """Read ``[tool.fastsplit]`` from ``project_dir/pyproject.toml`` (absent → defaults)."""
    pyproject = project_dir / "pyproject.toml"
    if not pyproject.is_file():
        return Config()
    try:
        data = tomllib.loads(pyproject.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{pyproject}: invalid TOML ({exc}); fix the file") from exc
    tool = data.get("tool", {})
    table = tool.get("fastsplit", {}) if isinstance(tool, dict) else {}
    if not isinstance(table, dict):
        raise ConfigError(f"{pyproject}: [tool.fastsplit] must be a table")
    config = config_from_table(table, where=f"{pyproject.name} [tool.fastsplit]")
    # Paths in the file are relative to the folder that holds it, not to the cwd.
    for key in ("app_dir", "out", "dist", "requirements"):
        if key in table or key.replace("_", "-") in table:
            config = replace(config, **{key: project_dir / getattr(config, key)})
    return config


def config_from_table(table: Mapping[str, Any], *, where: str) -> Config:
    """Build a Config from a ``[tool.fastsplit]`` table, rejecting unknown keys."""
    known = {f.name.replace("_", "-"): f.name for f in fields(Config)} | {
        f.name: f.name for f in fields(Config)
    }
    values: dict[str, Any] = {}
    for key, value in table.items():
        if key not in known or key in ("strict",):
            raise ConfigError(f"{where}: unknown key {key!r}; see the README for the settings")
        values[known[key]] = value
    for path_key in ("app_dir", "out", "dist", "requirements"):
        if path_key in values:
            values[path_key] = Path(_expect(values[path_key], str, f"{where}.{path_key}"))
    if "environment" in values:
        values["environment"] = _environment(values["environment"], f"{where}.environment")
    if "iam_statements" in values:
        values["iam_statements"] = _iam(values["iam_statements"], f"{where}.iam_statements")
    if "exclude" in values:
        patterns = values["exclude"]
        if not isinstance(patterns, list) or not all(isinstance(p, str) for p in patterns):
            raise ConfigError(f"{where}.exclude must be a list of glob patterns")
        values["exclude"] = tuple(patterns)
    for key in ("slim_include", "slim_exclude"):
        if key in values:
            values[key] = _import_names(values[key], f"{where}.{key.replace('_', '-')}")
    if "routes" in values:
        values["routes"] = _route_tables(values["routes"], f"{where}.routes")
    try:
        config = Config(**values)
    except TypeError as exc:  # pragma: no cover - guarded by the key check above
        raise ConfigError(f"{where}: {exc}") from exc
    validate_global(config, where=where)
    return config


def validate_global(config: Config, *, where: str = "options") -> None:
    """Check the global settings; raises :class:`ConfigError` naming the bad value."""
    if config.app is not None:
        _expect(config.app, str, f"{where}: app")
    if config.runtime not in RUNTIMES:
        raise ConfigError(
            f"{where}: runtime {config.runtime!r} is not a Lambda Python runtime; "
            f"use one of {', '.join(RUNTIMES)}"
        )
    if config.service is not None and not SERVICE_RE.match(str(config.service)):
        raise ConfigError(
            f"{where}: service {config.service!r} must start with a letter and contain only "
            "letters, digits and dashes"
        )
    _expect(config.stage, str, f"{where}: stage")
    _expect(config.region, str, f"{where}: region")
    if not STAGE_RE.match(str(config.stage)):
        raise ConfigError(f"{where}: stage {config.stage!r} must be letters and digits only")
    if not REGION_RE.match(str(config.region)):
        raise ConfigError(f"{where}: region {config.region!r} is not an AWS region name")
    for key in ("docs", "fallback"):
        _expect(getattr(config, key), bool, f"{where}: {key}")
    _mode(config.mode, f"{where}: mode")
    validate_route_settings(
        {
            "memory": config.memory,
            "timeout": config.timeout,
            "architecture": config.architecture,
            "reserved_concurrency": config.reserved_concurrency,
            "provisioned_concurrency": config.provisioned_concurrency,
        },
        where=where,
    )


def validate_route_settings(raw: Mapping[str, Any], *, where: str) -> dict[str, Any]:
    """Validate one route's settings; returns them normalised (``None`` values dropped)."""
    if not isinstance(raw, Mapping):
        raise ConfigError(
            f"{where}: x-fastsplit settings must be a table/object, not {type(raw).__name__}"
        )
    unknown = sorted(set(raw) - set(ROUTE_SETTING_KEYS))
    if unknown:
        raise ConfigError(
            f"{where}: unknown setting {unknown[0]!r}; "
            f"known settings are {', '.join(ROUTE_SETTING_KEYS)}"
        )
    clean: dict[str, Any] = {}
    for key, value in raw.items():
        if value is None:
            continue
        if key == "name":
            if not isinstance(value, str) or not NAME_RE.match(value):
                raise ConfigError(
                    f"{where}: name {value!r} must be lowercase letters, digits and "
                    "underscores, not starting with a digit (e.g. 'get_user')"
                )
        elif key == "memory":
            _int_range(value, MEMORY_RANGE, f"{where}: memory", unit="MB")
        elif key == "timeout":
            _int_range(value, TIMEOUT_RANGE, f"{where}: timeout", unit="s")
        elif key == "architecture":
            if value not in ARCHITECTURES:
                raise ConfigError(
                    f"{where}: architecture {value!r} is not supported; use x86_64 or arm64"
                )
        elif key == "reserved_concurrency":
            _int_range(value, (0, 100000), f"{where}: reserved_concurrency", unit="")
        elif key == "provisioned_concurrency":
            _int_range(value, (1, 100000), f"{where}: provisioned_concurrency", unit="")
        elif key == "environment":
            value = _environment(value, f"{where}: environment")
        elif key == "iam_statements":
            value = _iam(value, f"{where}: iam_statements")
        elif key == "mode":
            _mode(value, f"{where}: mode")
        elif key in ("slim_include", "slim_exclude"):
            value = _import_names(value, f"{where}: {key}")
        clean[key] = value
    return clean


def _mode(value: Any, where: str) -> None:
    if value not in MODES:
        raise ConfigError(f"{where} {value!r} is not a mode; use slim or full")


def _import_names(value: Any, where: str) -> tuple[str, ...]:
    if isinstance(value, tuple):
        value = list(value)
    if not isinstance(value, list) or not all(
        isinstance(name, str) and IMPORT_NAME_RE.match(name) for name in value
    ):
        raise ConfigError(
            f"{where} must be a list of module or distribution names "
            "(e.g. ['app.plugins', 'python-dateutil'])"
        )
    return tuple(value)


def _expect(value: Any, kind: type, where: str) -> Any:
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        raise ConfigError(f"{where} must be a {kind.__name__}, not {value!r}")
    return value


def _int_range(value: Any, bounds: tuple[int, int], where: str, *, unit: str) -> None:
    low, high = bounds
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise ConfigError(
            f"{where} {value!r} is out of range; use a whole number from {low} to {high}"
            + (f" {unit}" if unit else "")
        )


def _environment(value: Any, where: str) -> tuple[tuple[str, str], ...]:
    if isinstance(value, tuple):
        value = dict(value)
    if not isinstance(value, Mapping):
        raise ConfigError(f"{where} must map variable names to strings")
    pairs: list[tuple[str, str]] = []
    for name, setting in value.items():
        if not isinstance(name, str) or not ENV_NAME_RE.match(name):
            raise ConfigError(f"{where}: {name!r} is not a valid environment variable name")
        if name in RESERVED_ENV:
            raise ConfigError(f"{where}: {name} is reserved by Lambda; choose another name")
        if isinstance(setting, bool) or not isinstance(setting, str | int | float):
            raise ConfigError(f"{where}: value of {name} must be a string, not {setting!r}")
        pairs.append((name, str(setting)))
    return tuple(sorted(pairs))


def _iam(value: Any, where: str) -> tuple[dict[str, Any], ...]:
    if not isinstance(value, list | tuple):
        raise ConfigError(f"{where} must be a list of IAM policy statements")
    statements: list[dict[str, Any]] = []
    for statement in value:
        if not isinstance(statement, Mapping):
            raise ConfigError(f"{where}: each statement must be a table/object")
        missing = [key for key in ("Effect", "Action", "Resource") if key not in statement]
        if missing:
            raise ConfigError(f"{where}: statement is missing {', '.join(missing)}")
        if statement["Effect"] not in ("Allow", "Deny"):
            raise ConfigError(f"{where}: Effect must be 'Allow' or 'Deny'")
        statements.append(dict(statement))
    return tuple(statements)


def _route_tables(value: Any, where: str) -> tuple[tuple[str, dict[str, Any]], ...]:
    if not isinstance(value, Mapping):
        raise ConfigError(
            f'{where} must be a table of globs, e.g. [tool.fastsplit.routes."/admin/*"]'
        )
    return tuple(
        (str(glob), validate_route_settings(settings, where=f"{where}.{glob!r}"))
        for glob, settings in value.items()
    )
