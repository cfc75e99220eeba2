"""The plain, frozen data model shared by every stage.

The parser is the only code that touches live FastAPI objects; everything after it reads
these dataclasses: strings, numbers and tuples in a stable order, nothing that needs
FastAPI (or the user's app) to be imported.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from fastsplit.errors import Diagnostic

RouteKind = Literal["api", "mount", "docs"]
FunctionKind = Literal["route", "mount", "docs", "fallback"]
Architecture = Literal["x86_64", "arm64"]


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
class Function:
    """One deployable function: a handler module serving one or more routes."""

    name: str
    logical_id: str
    """CloudFormation logical id (alphanumeric) of the SAM resource."""
    kind: FunctionKind
    routes: tuple[Route, ...]
    events: tuple[HttpEvent, ...]
    settings: Settings

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
            return "Requests no route takes: FastAPI's 404, 405 and trailing-slash redirects"
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
