"""Import the user's app and read its route table into the frozen model.

This is the only module that touches live FastAPI/Starlette objects. Since FastAPI 0.137,
routers added with ``include_router`` stay a tree in ``app.routes``
(``fastapi.routing._IncludedRouter`` nodes whose routes carry no prefix), so routes are
read through ``fastapi.routing.iter_route_contexts`` where it exists: it yields every
route with its effective, prefixed path, in dispatch order. Older FastAPI flattens
included routers into ``app.routes`` itself, which is read as is.
"""

from __future__ import annotations

import importlib
import inspect
import sys
import traceback
from collections.abc import Callable, Iterator
from dataclasses import replace
from enum import Enum
from pathlib import Path
from types import CodeType, ModuleType
from typing import Any

from fastsplit.background import Background
from fastsplit.errors import AppImportError, Diagnostic
from fastsplit.fingerprint import openapi_paths
from fastsplit.model import AppSpec, PathParam, Route, RouteKind, SlimApp
from fastsplit.recipe import Describer, NotRebuildable, describe_routes
from fastsplit.sources import first_party_modules, list_files

MUTABLE_TYPES = (dict, list, set, bytearray)
# Names whose use means a route builds URLs of other routes: a one-route app cannot.
URL_BUILDERS = frozenset({"url_for", "url_path_for"})


def load_app_spec(
    app_ref: str, *, app_dir: Path, recipes: Callable[[AppSpec], bool] | None = None
) -> AppSpec:
    """Import ``module:attribute`` from ``app_dir`` and describe it as an :class:`AppSpec`.

    ``recipes`` decides, from the spec without them, whether to work out how slim
    functions rebuild each route (the default: always).
    """
    module_name, attribute = split_app_ref(app_ref)
    app_dir = app_dir.resolve()
    module = import_module(module_name, app_dir=app_dir)
    app = resolve_attribute(module, attribute, app_ref)
    return describe_app(app, app_ref=app_ref, module=module, app_dir=app_dir, recipes=recipes)


def split_app_ref(app_ref: str) -> tuple[str, str]:
    """``"pkg.mod:app"`` → ``("pkg.mod", "app")``, with a helpful error otherwise."""
    module_name, sep, attribute = app_ref.partition(":")
    names = [*module_name.split("."), attribute]
    if not sep or not all(name.isidentifier() for name in names):
        raise AppImportError(
            f"APP {app_ref!r} must look like 'module:attribute', e.g. 'app.main:app'"
        )
    return module_name, attribute


def import_module(module_name: str, *, app_dir: Path) -> ModuleType:
    """Import the app module with ``app_dir`` first on ``sys.path``."""
    if not app_dir.is_dir():
        raise AppImportError(f"--app-dir {app_dir} is not a folder; pass the project folder")
    if str(app_dir) not in sys.path:
        sys.path.insert(0, str(app_dir))
    try:
        return importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        if exc.name and (module_name == exc.name or module_name.startswith(exc.name + ".")):
            raise AppImportError(
                f"cannot import module {module_name!r} from {app_dir}: no such module; "
                "check the name or pass --app-dir"
            ) from None
        raise AppImportError(_user_error(module_name, exc, app_dir)) from None
    except Exception as exc:
        raise AppImportError(_user_error(module_name, exc, app_dir)) from None


def _user_error(module_name: str, exc: BaseException, app_dir: Path) -> str:
    """One line naming the user's own failing line: the last frame under ``app_dir``."""
    location = ""
    for frame in reversed(traceback.extract_tb(exc.__traceback__)):
        path = Path(frame.filename)
        if path.is_absolute() and path.is_relative_to(app_dir):
            location = f" ({path.relative_to(app_dir)}, line {frame.lineno}: {frame.line})"
            break
    # One line, whatever the exception's message looks like.
    message = " ".join(f"{type(exc).__name__}: {exc}".split()).rstrip(": ")
    return f"importing {module_name!r} failed: {message}{location}; fix the app and retry"


def resolve_attribute(module: ModuleType, attribute: str, app_ref: str) -> Any:
    if not hasattr(module, attribute):
        raise AppImportError(
            f"module {module.__name__!r} has no attribute {attribute!r}; "
            f"check APP {app_ref!r} (the part after ':' names the app object)"
        )
    obj = getattr(module, attribute)
    from starlette.applications import Starlette

    if not isinstance(obj, Starlette):
        raise AppImportError(
            f"{app_ref!r} is a {type(obj).__name__}, not a FastAPI or Starlette app; "
            "point APP at the object created with FastAPI()"
        )
    return obj


def describe_app(
    app: Any,
    *,
    app_ref: str,
    module: ModuleType,
    app_dir: Path,
    recipes: Callable[[AppSpec], bool] | None = None,
) -> AppSpec:
    """The app as an :class:`AppSpec`; each API route with its slim recipe unless
    ``recipes`` says the build needs none (every function full: the recipes are a
    baseline FastAPI route per route, the largest part of describing a big app)."""
    # The whole app's OpenAPI schema (what slim functions' are compared with) is made
    # on another core while the routes are walked; cancelled if no recipe is wanted.
    paths = Background(lambda: openapi_paths(app))
    try:
        return _describe_app(
            app, app_ref=app_ref, module=module, app_dir=app_dir, recipes=recipes, paths=paths
        )
    finally:
        paths.cancel()


def _describe_app(
    app: Any,
    *,
    app_ref: str,
    module: ModuleType,
    app_dir: Path,
    recipes: Callable[[AppSpec], bool] | None,
    paths: Background,
) -> AppSpec:
    module_name, attribute = split_app_ref(app_ref)
    diagnostics: list[Diagnostic] = []
    routes: list[Route] = []
    api_routes: list[tuple[Any, Any]] = []
    for index, (original, effective) in enumerate(iter_routes(app)):
        route = _describe_route(app, index, original, effective, diagnostics, app_dir)
        if route is not None:
            routes.append(route)
            if route.kind == "api":
                diagnostics.extend(_memory_state_warnings(route, effective))
                api_routes.append((original, effective))
    describer = Describer(app_module=module_name, app_dir=app_dir)
    slim_app, not_slim = _slim_app(describer, app)
    title = str(getattr(app, "title", "") or "")
    source_modules = first_party_modules(module, app_dir=app_dir)
    spec = AppSpec(
        app=app_ref,
        module=module_name,
        attribute=attribute,
        title=title,
        version=str(getattr(app, "version", "") or ""),
        routes=tuple(routes),
        source_modules=source_modules,
        source_files=list_files(app_dir, source_modules),
        redirect_slashes=bool(getattr(app.router, "redirect_slashes", True)),
        middleware=tuple(_middleware_name(m) for m in getattr(app, "user_middleware", [])),
        custom_http_error_handlers=_has_custom_http_handlers(app),
        diagnostics=tuple(diagnostics),
        slim_app=slim_app,
        not_slim=not_slim,
    )
    if slim_app is not None and (recipes is None or recipes(spec)):
        described = _with_recipes(describer, app, routes, api_routes, paths=paths.result)
        spec = replace(spec, routes=tuple(described))
    return spec


def _slim_app(describer: Describer, app: Any) -> tuple[SlimApp | None, str]:
    try:
        return describer.app(app), ""
    except NotRebuildable as exc:
        return None, str(exc)


def _with_recipes(
    describer: Describer,
    app: Any,
    routes: list[Route],
    api_routes: list[tuple[Any, Any]],
    *,
    paths: Callable[[], dict[str, dict[str, Any]]],
) -> list[Route]:
    """The API routes with how slim functions rebuild them (or why they cannot)."""
    try:
        described = describe_routes(describer, app, routes=api_routes, paths=paths)
    except Exception as exc:  # the user's models can make schema generation fail
        reason = " ".join(f"{type(exc).__name__}: {exc}".split())
        why = f"the app's OpenAPI schema, which the proof compares, cannot be made ({reason})"
        described = [why] * len(api_routes)
    recipes = iter(zip(api_routes, described, strict=True))
    updated = []
    for route in routes:
        if route.kind != "api":
            updated.append(route)
            continue
        (_, effective), recipe = next(recipes)
        builder = _url_builder(effective)
        if builder and not isinstance(recipe, str):
            recipe = (
                f"{builder} builds the URLs of other routes by name (url_for), which a "
                "one-route app does not have"
            )
        if isinstance(recipe, str):
            updated.append(replace(route, not_slim=recipe))
        else:
            updated.append(replace(route, slim=recipe))
    return updated


def _url_builder(effective: Any) -> str:
    """The endpoint or dependency that calls ``url_for``/``url_path_for``, if any."""
    for func in _route_callables(effective):
        code = getattr(func, "__code__", None)
        if code is not None and _referenced_names(code) & URL_BUILDERS:
            return f"{getattr(func, '__module__', '?')}:{getattr(func, '__qualname__', '?')}"
    return ""


def iter_routes(app: Any) -> Iterator[tuple[Any, Any]]:
    """Yield ``(original route, effective route)`` for every route, in dispatch order.

    The effective route answers ``path``, ``methods``, ``name`` ... with prefixes and
    router-level settings applied; on FastAPI before 0.137 it is the route itself.
    """
    import fastapi.routing

    iter_contexts: Callable[..., Iterator[Any]] | None = getattr(
        fastapi.routing, "iter_route_contexts", None
    )
    if iter_contexts is not None:
        for context in iter_contexts(app.router.routes):
            yield context.original_route, context
        return
    # FastAPI 0.137.0 and 0.137.1 already keep the tree but have no public iterator yet.
    with_context: Callable[..., Iterator[Any]] | None = getattr(
        fastapi.routing, "_iter_routes_with_context", None
    )
    if with_context is not None:
        for original, context in with_context(app.router.routes):
            yield original, context if context is not None else original
        return
    for route in app.router.routes:
        yield route, route


def _describe_route(
    app: Any,
    index: int,
    original: Any,
    effective: Any,
    diagnostics: list[Diagnostic],
    app_dir: Path,
) -> Route | None:
    from fastapi.routing import APIRoute, APIWebSocketRoute
    from starlette.routing import Host, Mount, WebSocketRoute
    from starlette.routing import Route as StarletteRoute

    path = str(getattr(effective, "path", "") or "")
    if isinstance(original, WebSocketRoute | APIWebSocketRoute):
        diagnostics.append(
            Diagnostic(
                "warning",
                f"WEBSOCKET {path}",
                "websockets are not supported on HTTP APIs; not generated",
            )
        )
        return None
    if isinstance(original, Host):
        diagnostics.append(
            Diagnostic(
                "warning",
                f"HOST {original.host}",
                "host routes are not supported; "
                "not generated (route by domain in API Gateway instead)",
            )
        )
        return None
    if isinstance(original, Mount):
        return _mount_route(index, original, effective, diagnostics, app_dir)
    if not isinstance(original, APIRoute | StarletteRoute):
        diagnostics.append(
            Diagnostic(
                "error",
                f"{type(original).__name__} {path or '?'}",
                "unknown kind of route: fastsplit cannot tell what it serves; please report "
                "it with your FastAPI version",
            )
        )
        return None
    methods = tuple(sorted(getattr(effective, "methods", None) or ()))
    is_docs = path in _docs_paths(app) and not isinstance(original, APIRoute)
    kind: RouteKind = "docs" if is_docs else "api"
    endpoint = getattr(effective, "endpoint", None)
    extra = getattr(effective, "openapi_extra", None) or {}
    settings = extra.get("x-fastsplit", {}) if isinstance(extra, dict) else {}
    return Route(
        index=index,
        kind=kind,
        methods=methods,
        path=path,
        path_format=str(getattr(effective, "path_format", path)),
        path_regex=effective.path_regex.pattern,
        params=_params(effective),
        name=str(getattr(effective, "name", "") or ""),
        endpoint=_qualified(endpoint) if endpoint is not None else "",
        operation_id=getattr(effective, "operation_id", None),
        tags=tuple(_tag(tag) for tag in getattr(effective, "tags", None) or ()),
        summary=getattr(effective, "summary", None),
        settings=settings,
    )


def _mount_route(
    index: int, original: Any, effective: Any, diagnostics: list[Diagnostic], app_dir: Path
) -> Route | None:
    path = str(getattr(effective, "path", original.path))
    if path in ("", "/"):
        diagnostics.append(
            Diagnostic(
                "warning",
                f"MOUNT {path or '/'}",
                "a mount at the root would take every request from every other function; "
                "not generated (mount it under a prefix)",
            )
        )
        return None
    return Route(
        index=index,
        kind="mount",
        methods=(),
        path=path,
        path_format=path,
        path_regex=effective.path_regex.pattern,
        name=str(getattr(effective, "name", "") or ""),
        endpoint=_qualified(
            original.app if inspect.isfunction(original.app) else type(original.app)
        ),
        assets=_static_assets(original.app, app_dir),
    )


def _static_assets(mounted: Any, app_dir: Path) -> tuple[str, ...]:
    """Files a ``StaticFiles`` mount serves from under the app folder."""
    directory = getattr(mounted, "directory", None)
    if directory is None:
        return ()
    path = Path(directory).resolve()
    if not path.is_dir() or not path.is_relative_to(app_dir):
        return ()
    return list_files(app_dir, (path.relative_to(app_dir).as_posix(),))


def _middleware_name(middleware: Any) -> str:
    """``module:qualname`` of a middleware; for ``@app.middleware("http")`` functions
    (a BaseHTTPMiddleware) the decorated function, which is what the user wrote."""
    options = getattr(middleware, "kwargs", None) or getattr(middleware, "options", None) or {}
    dispatch = options.get("dispatch") if isinstance(options, dict) else None
    return _qualified(dispatch if dispatch is not None else middleware.cls)


def _docs_paths(app: Any) -> set[str]:
    paths = set()
    for attr in ("openapi_url", "docs_url", "redoc_url"):
        value = getattr(app, attr, None)
        if value:
            paths.add(str(value))
    redirect = getattr(app, "swagger_ui_oauth2_redirect_url", None)
    if redirect and getattr(app, "docs_url", None):
        paths.add(str(redirect))
    return paths


def _params(route: Any) -> tuple[PathParam, ...]:
    convertors = getattr(route, "param_convertors", None) or {}
    from starlette.convertors import CONVERTOR_TYPES

    names = {type(convertor): name for name, convertor in CONVERTOR_TYPES.items()}
    return tuple(
        PathParam(name, names.get(type(convertor), type(convertor).__name__))
        for name, convertor in convertors.items()
    )


def _tag(tag: Any) -> str:
    return str(tag.value) if isinstance(tag, Enum) else str(tag)


def _qualified(obj: Any) -> str:
    target = inspect.unwrap(obj) if callable(obj) else obj
    module = getattr(target, "__module__", None) or "?"
    qualname = getattr(target, "__qualname__", None) or type(target).__qualname__
    return f"{module}:{qualname}"


def _has_custom_http_handlers(app: Any) -> bool:
    handlers = getattr(app, "exception_handlers", {}) or {}
    if 404 in handlers or 405 in handlers:
        return True
    from fastapi.exception_handlers import http_exception_handler
    from starlette.exceptions import HTTPException

    handler = handlers.get(HTTPException)
    return handler is not None and handler is not http_exception_handler


def _memory_state_warnings(route: Route, effective: Any) -> list[Diagnostic]:
    """Warn about module-level dicts/lists/sets an endpoint or its dependencies use."""
    found: dict[tuple[str, str], None] = {}
    for func in _route_callables(effective):
        globals_ = getattr(func, "__globals__", None)
        code = getattr(func, "__code__", None)
        if not isinstance(globals_, dict) or code is None:
            continue
        for name in sorted(_referenced_names(code)):
            value = globals_.get(name)
            if isinstance(value, MUTABLE_TYPES):
                found[(name, str(globals_.get("__name__", "?")))] = None
    return [
        Diagnostic(
            "warning",
            route.key,
            f"uses in-memory `{name}` from {module}; it is not shared between functions "
            "— keep state in a database",
        )
        for name, module in found
    ]


def _route_callables(effective: Any) -> Iterator[Any]:
    endpoint = getattr(effective, "endpoint", None)
    if endpoint is not None:
        yield inspect.unwrap(endpoint)
    stack = [getattr(effective, "dependant", None)]
    while stack:
        dependant = stack.pop()
        if dependant is None:
            continue
        for sub in getattr(dependant, "dependencies", []):
            call = getattr(sub, "call", None)
            if call is not None:
                yield inspect.unwrap(call)
            stack.append(sub)


def _referenced_names(code: CodeType) -> set[str]:
    names = set(code.co_names)
    for const in code.co_consts:
        if isinstance(const, CodeType):
            names |= _referenced_names(const)
    return names
