"""The plain, frozen data model shared by every stage.

The parser is the only code that touches live FastAPI objects; everything after it reads
these dataclasses: strings, numbers and tuples in a stable order, nothing that needs
FastAPI (or the user's app) to be imported.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from typing import Any, Literal

from fastsplit.errors import Diagnostic

RouteKind = Literal["api", "mount", "docs"]
FunctionKind = Literal["route", "mount", "docs", "fallback"]
FunctionMode = Literal["slim", "full", "standalone"]
"""slim: a one-route app rebuilt by reference; full: the whole app; standalone: no app
code at all (the fallback function)."""
Architecture = Literal["x86_64", "arm64"]


# --- Python values recorded by reference, for the slim handlers -----------------------


@dataclass(frozen=True)
class Ref:
    """An object importable by name: ``from {module} import {first part of qualname}``.

    ``qualname`` may be dotted (``Color.RED``, ``Outer.Inner``): attributes of the
    imported object.
    """

    module: str
    qualname: str

    def __str__(self) -> str:
        return f"{self.module}:{self.qualname}"


@dataclass(frozen=True)
class Const:
    """A plain literal: None, a bool, int, float, str or bytes."""

    value: bool | int | float | str | bytes | None


@dataclass(frozen=True)
class Seq:
    """A list, tuple, set or frozenset of values (sets in a stable order)."""

    kind: Literal["list", "tuple", "set", "frozenset"]
    items: tuple[Expr, ...] = ()


@dataclass(frozen=True)
class Dict:
    """A dict literal, in the original key order."""

    items: tuple[tuple[Expr, Expr], ...] = ()


@dataclass(frozen=True)
class Call:
    """``func(*args, **kwargs)``: how objects such as ``Depends(...)`` are rebuilt."""

    func: Ref
    args: tuple[Expr, ...] = ()
    kwargs: tuple[tuple[str, Expr], ...] = ()


Expr = Const | Ref | Seq | Dict | Call
"""A value a generated handler can write down: plain data or importable references."""


@dataclass(frozen=True)
class SlimApp:
    """How to rebuild the app without importing its module: ``factory(**kwargs)``, then
    ``app.dependency_overrides`` (the same for every slim function)."""

    factory: Ref
    kwargs: tuple[tuple[str, Expr], ...] = ()
    dependency_overrides: tuple[tuple[Expr, Expr], ...] = ()


@dataclass(frozen=True)
class SlimRoute:
    """How to add one route to the rebuilt app: ``add_api_route(path, endpoint, **kwargs)``
    with only the options that differ from FastAPI's defaults."""

    endpoint: Ref
    kwargs: tuple[tuple[str, Expr], ...] = ()
    via_router: bool = False
    """True when an option is only accepted by ``app.router.add_api_route``."""
    openapi: str = ""
    """The monolith's OpenAPI operations of this route (canonical JSON, references
    resolved): what the build-time proof expects of the rebuilt app."""


@dataclass(frozen=True)
class PathParam:
    """A path parameter: ``{user_id:int}`` is ``PathParam("user_id", "int")``."""

    name: str
    converter: str = "str"


@dataclass(frozen=True)
class Route:
    """One entry of the app's route table, in dispatch order (``index``)."""

    index: int
    kind: RouteKind
    methods: tuple[str, ...]
    path: str
    """The FastAPI path with converters and prefixes applied: ``/users/{user_id:int}``."""
    path_format: str
    """The path without converters: ``/users/{user_id}``."""
    path_regex: str
    """Starlette's compiled pattern for ``path``: how the monolith matches requests."""
    params: tuple[PathParam, ...] = ()
    name: str = ""
    endpoint: str = ""
    """``module:qualname`` of the endpoint (or of the mounted app)."""
    operation_id: str | None = None
    tags: tuple[str, ...] = ()
    summary: str | None = None
    settings: dict[str, Any] = field(default_factory=dict, compare=False, hash=False)
    """The route's own ``openapi_extra["x-fastsplit"]`` settings, unvalidated."""
    assets: tuple[str, ...] = ()
    """Files a mount serves from the app folder (static files), relative and sorted."""
    slim: SlimRoute | None = None
    """How a slim function rebuilds this route, or None (see ``not_slim``)."""
    not_slim: str = ""
    """Why this route cannot be rebuilt by reference (its function stays full)."""

    @property
    def key(self) -> str:
        """``GET /users/{user_id:int}``: how diagnostics and settings globs name a route."""
        return f"{','.join(self.methods) or 'ANY'} {self.path}"


@dataclass(frozen=True)
class AppSpec:
    """Everything fastsplit needs to know about the app, read once at import time."""

    app: str
    """``module:attribute`` as given by the user."""
    module: str
    attribute: str
    title: str
    version: str
    routes: tuple[Route, ...]
    source_modules: tuple[str, ...]
    """First-party top-level modules and packages (relative paths under the app dir)
    that the app imported: the application code every full-mode function carries."""
    source_files: tuple[str, ...] = ()
    """Every file of ``source_modules`` (relative, sorted) that functions carry."""
    redirect_slashes: bool = True
    middleware: tuple[str, ...] = ()
    """User middleware as ``module:qualname``, outermost first."""
    custom_http_error_handlers: bool = False
    """True when the app replaces FastAPI's 404/405 (``HTTPException``) handling."""
    diagnostics: tuple[Diagnostic, ...] = ()
    slim_app: SlimApp | None = None
    """How slim functions rebuild the app, or None (see ``not_slim``)."""
    not_slim: str = ""
    """Why the app itself cannot be rebuilt by reference (every function stays full)."""

    @cached_property
    def full_files(self) -> frozenset[str]:
        """What a full-mode function carries of the app: every source file, and the
        folders of its mounts (the whole app is imported, whose mounts check them)."""
        assets = (asset for route in self.routes for asset in route.assets)
        return frozenset((*self.source_files, *assets))


@dataclass(frozen=True)
class Settings:
    """Effective deployment settings of one function (every target gets the same)."""

    memory: int = 512
    timeout: int = 29
    architecture: Architecture = "x86_64"
    environment: tuple[tuple[str, str], ...] = ()
    reserved_concurrency: int | None = None
    provisioned_concurrency: int | None = None
    iam_statements: tuple[dict[str, Any], ...] = field(default=(), hash=False)

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready form (for the manifest): absent optional values are left out."""
        data: dict[str, Any] = {
            "memory": self.memory,
            "timeout": self.timeout,
            "architecture": self.architecture,
            "environment": dict(self.environment),
        }
        if self.reserved_concurrency is not None:
            data["reserved_concurrency"] = self.reserved_concurrency
        if self.provisioned_concurrency is not None:
            data["provisioned_concurrency"] = self.provisioned_concurrency
        if self.iam_statements:
            data["iam_statements"] = list(self.iam_statements)
        return data


@dataclass(frozen=True)
class HttpEvent:
    """One route of the HTTP API that invokes a function.

    ``method`` is an HTTP method or ``ANY``; ``path`` is in API Gateway syntax
    (``/files/{file_path+}``) or ``$default`` for the catch-all route.
    """

    method: str
    path: str


@dataclass(frozen=True)
class ImportedModule:
    """A module a slim handler's import loaded, and why."""

    name: str
    chain: tuple[str, ...]
    """Who imported whom, from the handler: ``("handler", "app.routes.users", name)``."""


@dataclass(frozen=True)
class UsedDistribution:
    """A third-party distribution a slim function needs (in the build environment)."""

    name: str
    version: str
    packages: tuple[str, ...] = ()
    """Top-level import names of it that the handler imports."""
    required_by: str = ""
    """When it is not imported itself: the distribution whose requirement pulls it in."""


@dataclass(frozen=True)
class Imports:
    """What importing a slim handler loads, as recorded by the build-time proof."""

    modules: tuple[ImportedModule, ...] = ()
    """The application's own modules, sorted by name."""
    files: tuple[str, ...] = ()
    """The application files the function carries (relative to the app folder): the
    imported modules, the data files of imported packages and ``slim_include``."""
    packages: tuple[ImportedModule, ...] = ()
    """Third-party top-level packages (import names), sorted by name."""
    distributions: tuple[UsedDistribution, ...] = ()
    """Their distributions and those distributions' requirements, sorted by name."""
    include: tuple[str, ...] = ()
    """``slim_include`` names that are not application modules: distributions or
    third-party packages for the packager to add."""
    exclude: tuple[str, ...] = ()
    """``slim_exclude`` names that are not application modules."""


@dataclass(frozen=True)
class Function:
    """One deployable function: a handler module serving one or more routes."""

    name: str
    logical_id: str
    """CloudFormation logical id (alphanumeric) of the SAM resource."""
    kind: FunctionKind
    routes: tuple[Route, ...]
    events: tuple[HttpEvent, ...]
    settings: Settings
    mode: FunctionMode = "full"
    not_slim: str = ""
    """Why a route function is full although slim mode was asked for."""
    slim_include: tuple[str, ...] = ()
    """Modules or distributions to ship although the handler does not import them."""
    slim_exclude: tuple[str, ...] = ()
    """Modules or distributions never to ship, although the handler imports them."""
    imports: Imports | None = None
    """What a slim function's handler imports: set by the proof, None until proven."""

    @property
    def folder(self) -> str:
        return f"functions/{self.name}"

    @property
    def handler(self) -> str:
        """Handler path relative to the service folder, as serverless.yml wants it."""
        return f"{self.folder}/handler.handler"

    @property
    def description(self) -> str:
        if self.kind == "fallback":
            answers = "FastAPI's" if self.mode == "standalone" else "the app's"
            return f"Requests no route takes: {answers} 404, 405 and trailing-slash redirects"
        if self.kind == "docs":
            return "API docs and OpenAPI schema"
        return "; ".join(route.key for route in self.routes)


@dataclass(frozen=True)
class FallbackRoute:
    """A route as the fallback function matches it (no endpoint: paths and methods only)."""

    path: str
    methods: tuple[str, ...] | None
    """None for mounts, which take every method."""


@dataclass(frozen=True)
class OutputFile:
    """A file of the build, relative to the output folder."""

    path: str
    text: str | None = None
    copy_from: str | None = None
    """For the app's own files: the path relative to the app folder to copy."""


@dataclass(frozen=True)
class BuildPlan:
    """The app's functions with names and effective settings: what the targets render."""

    spec: AppSpec
    service: str
    stage: str
    region: str
    runtime: str
    functions: tuple[Function, ...]
    fallback_routes: tuple[FallbackRoute, ...] = ()
    diagnostics: tuple[Diagnostic, ...] = ()
    requirements: tuple[str, ...] = ()
    """The app's third-party requirements, for targets whose platform installs them
    at deploy time (Vercel); read by the CLI, empty when none were found."""
