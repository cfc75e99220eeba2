"""Describe a live FastAPI app and its routes as recipes a slim handler can follow.

A recipe says how to rebuild the app and one route *by reference*: every value is plain
data or an object importable as ``module:qualname`` (:mod:`fastsplit.model`'s ``Expr``),
and only what differs from FastAPI's own defaults is kept. Anything else (a lambda or a
closure, an option that is an object, a name defined in the module that assembles the
app) raises :class:`NotRebuildable` with a sentence saying exactly why.

Two callers, both touching live objects: the parser (the monolith, once per build) and
the probe (the rebuilt app, in a fresh process). The build-time proof compares what the
two describe, so a recipe that does not rebuild the same app is never shipped.
"""

from __future__ import annotations

import inspect
import math
import sys
import typing
from collections.abc import Callable, Iterator
from enum import Enum
from pathlib import Path
from types import FunctionType
from typing import Any

from fastsplit.fingerprint import (
    openapi_paths,
    parameters,
    route_operations,
    sort_key,
    to_json,
)
from fastsplit.model import Call, Const, Dict, Expr, Ref, Seq, SlimApp, SlimRoute
from fastsplit.sources import is_first_party_file

# Settings of ``FastAPI(...)`` that change how a route answers, and where the app keeps
# them. The rest only shape the docs, which the full docs function serves.
_APP_SETTINGS: dict[str, Callable[[Any], Any]] = {
    "debug": lambda app: app.debug,
    "title": lambda app: app.title,
    "version": lambda app: app.version,
    "root_path": lambda app: app.root_path,
    "separate_input_output_schemas": lambda app: app.separate_input_output_schemas,
    "redirect_slashes": lambda app: app.router.redirect_slashes,
    "strict_content_type": lambda app: app.router.strict_content_type,
    "max_body_size": lambda app: app.router.max_body_size,
    "form_limits": lambda app: app.router.form_limits,
}
# Route options whose default-placeholder wrapping changes behaviour (FastAPI streams
# generator endpoints only under the default response class): compared as they are.
_EXACT_OPTIONS = frozenset({"response_class"})
_MERGED_LIFESPAN = "_merge_lifespan_context.<locals>.merged_lifespan"


class NotRebuildable(Exception):
    """The app or a route cannot be rebuilt by reference; ``str()`` says why."""


class Describer:
    """Turns live values into recipe expressions for one app.

    ``app_module`` is the module that assembles the app: a name defined there cannot be
    imported without building the whole app, which is what slim functions avoid.
    """

    def __init__(self, *, app_module: str, app_dir: Path) -> None:
        self.app_module = app_module
        self.app_dir = app_dir

    # --- values -------------------------------------------------------------------

    def expr(self, value: Any, what: str) -> Expr:
        """``value`` as plain data or importable references, or NotRebuildable."""
        from fastapi import params
        from fastapi.datastructures import DefaultPlaceholder

        if isinstance(value, Enum):
            return self._enum(value, what)
        if value is None or type(value) in (bool, int, str, bytes):
            return Const(value)
        if type(value) is float:
            if not math.isfinite(value):
                raise NotRebuildable(f"{what} is {value!r}, which has no Python literal")
            return Const(value)
        if type(value) in (list, tuple):
            items = tuple(self.expr(item, what) for item in value)
            return Seq("list" if type(value) is list else "tuple", items)
        if type(value) in (set, frozenset):
            items = tuple(sorted((self.expr(item, what) for item in value), key=sort_key))
            return Seq("set" if type(value) is set else "frozenset", items)
        if type(value) is dict:
            return Dict(tuple((self.expr(k, what), self.expr(v, what)) for k, v in value.items()))
        if isinstance(value, DefaultPlaceholder):
            from fastapi.datastructures import Default

            return Call(self.ref(Default, "FastAPI's Default"), (self.expr(value.value, what),))
        if isinstance(value, params.Depends):
            return self.depends(value, what)
        if isinstance(value, type) or inspect.isroutine(value):
            return self.ref(value, what)
        if typing.get_origin(value) is not None:
            raise NotRebuildable(
                f"{what} is {value!r}, a type expression: fastsplit imports names only "
                "(let FastAPI infer it from the endpoint's return annotation)"
            )
        raise NotRebuildable(
            f"{what} is {_article(type(value).__name__)} object, which fastsplit cannot "
            "write down (only plain data and importable names)"
        )

    def ref(self, obj: Any, what: str) -> Ref:
        """The ``module:qualname`` that imports this very object."""
        module = getattr(obj, "__module__", None)
        qualname = getattr(obj, "__qualname__", None)
        if not isinstance(module, str) or not isinstance(qualname, str):
            raise NotRebuildable(f"{what} has no importable name")
        name = f"{module}:{qualname}"
        if "<lambda>" in qualname:
            raise NotRebuildable(f"{what} {name} is a lambda; define it with def at module level")
        if "<locals>" in qualname:
            outer = qualname.split(".<locals>", 1)[0]
            raise NotRebuildable(
                f"{what} {name} is a closure made inside {outer}(); only module-level "
                "names can be imported by a function"
            )
        found = _resolve(module, qualname)
        # A bound method is a new object at each attribute access, but an equal one.
        same = found is obj or (inspect.ismethod(obj) and found == obj)
        if module == "__main__" or not same:
            raise NotRebuildable(
                f"{what} {name} does not import as this object (the module's "
                f"{qualname} is something else, e.g. the result of another decorator)"
            )
        if module == self.app_module:
            # The endpoint's name is in every listing already; without it, the routes
            # that share this reason share one diagnostic.
            subject = "its endpoint is" if what == "endpoint" else f"{what} {name} is"
            raise NotRebuildable(
                f"{subject} defined in {module}, the module that assembles the app; move it "
                "to another module so that a function can import it without building every "
                "route"
            )
        return Ref(self._public_module(module, qualname), qualname)

    def depends(self, dependency: Any, what: str) -> Call:
        """``Depends(...)`` or ``Security(...)`` with the options that are not defaults."""
        import fastapi
        from fastapi import params

        kinds: dict[type, Callable[..., Any]] = {
            params.Depends: fastapi.Depends,
            params.Security: fastapi.Security,
        }
        factory = kinds.get(type(dependency))
        if factory is None:
            raise NotRebuildable(f"{what} {type(dependency).__name__}(...) is not supported")
        call = dependency.dependency
        label = _label(call)
        args = (self.expr(call, f"dependency {label}"),)
        kwargs = []
        for name, parameter in parameters(factory).items():
            if name == "dependency":
                continue
            value = getattr(dependency, name, parameter.default)
            if _same(value, parameter.default) or (_empty(value) and parameter.default is None):
                continue
            kwargs.append((name, self.expr(value, f"dependency {label} option {name}")))
        return Call(self.ref(factory, "Depends"), args, tuple(kwargs))

    def _enum(self, value: Enum, what: str) -> Ref:
        cls = self.ref(type(value), what)
        member = Ref(cls.module, f"{cls.qualname}.{value.name}")
        if _resolve(member.module, member.qualname) is not value:
            raise NotRebuildable(f"{what} {member} is an enum alias fastsplit cannot import")
        return member

    def _public_module(self, module: str, qualname: str) -> str:
        """For third-party names, the shortest module exposing the same object
        (``fastapi:FastAPI``, not ``fastapi.applications:FastAPI``): it is imported
        anyway, as the parent of the defining module. The app's own names keep their
        defining module."""
        defining = sys.modules.get(module)
        filename = getattr(defining, "__file__", None)
        if defining is None or is_first_party_file(filename, self.app_dir):
            return module
        head = qualname.split(".", 1)[0]
        target = getattr(defining, head, None)
        parts = module.split(".")
        for size in range(1, len(parts)):
            candidate = ".".join(parts[:size])
            parent = sys.modules.get(candidate)
            if parent is not None and getattr(parent, head, None) is target:
                return candidate
        return module

    # --- the app ------------------------------------------------------------------

    def app(self, app: Any) -> SlimApp:
        """How to rebuild ``app`` (settings, middleware, handlers, lifespan, overrides)."""
        from fastapi import FastAPI

        if not isinstance(app, FastAPI):
            raise NotRebuildable("the app is a Starlette app, not a FastAPI app")
        state = sorted(getattr(app.state, "_state", {}) or {})
        if state:
            raise NotRebuildable(
                f"the app keeps {', '.join(state)} in app.state, set while the app module "
                "runs; a rebuilt app would not have it (set it in the lifespan instead)"
            )
        baseline = FastAPI(openapi_url=None)
        accepted = parameters(FastAPI.__init__)
        kwargs: list[tuple[str, Expr]] = []
        for name, read in _APP_SETTINGS.items():
            if name in accepted and not _same(_read(read, app), _read(read, baseline)):
                kwargs.append((name, self.expr(_unwrap(read(app)), f"app setting {name}")))
        kwargs.extend(self._telemetry(app, baseline))
        for name, value in (getattr(app, "extra", None) or {}).items():
            kwargs.append((name, self.expr(value, f"app setting {name}")))
        kwargs.extend(self._lifespan(app))
        middleware = tuple(self._middleware(item) for item in app.user_middleware)
        if middleware:
            kwargs.append(("middleware", Seq("list", middleware)))
        handlers = self._exception_handlers(app, baseline)
        if handlers.items:
            kwargs.append(("exception_handlers", handlers))
        overrides = tuple(
            (
                self.expr(original, "a dependency_overrides key"),
                self.expr(override, f"the dependency override of {_label(original)}"),
            )
            for original, override in app.dependency_overrides.items()
        )
        return SlimApp(self.ref(type(app), "the app class"), tuple(kwargs), overrides)

    def _telemetry(self, app: Any, baseline: Any) -> list[tuple[str, Expr]]:
        ours, theirs = getattr(app, "_telemetry", None), getattr(baseline, "_telemetry", None)
        if not isinstance(ours, dict) or not isinstance(theirs, dict):
            return []
        changed = {key: value for key, value in ours.items() if theirs.get(key) != value}
        if not changed:
            return []
        return [("telemetry", self.expr(changed, "app setting telemetry"))]

    def _middleware(self, middleware: Any) -> Call:
        from starlette.middleware import Middleware

        cls = middleware.cls
        label = getattr(cls, "__name__", repr(cls))
        args = getattr(middleware, "args", ())
        options = getattr(middleware, "kwargs", None)
        if options is None:  # Starlette before 0.35
            options = getattr(middleware, "options", {})
        return Call(
            self.ref(Middleware, "Middleware"),
            (
                self.ref(cls, f"middleware {label}"),
                *(self.expr(arg, f"middleware {label} argument") for arg in args),
            ),
            tuple(
                (name, self.expr(value, f"middleware {label} option {name}"))
                for name, value in options.items()
            ),
        )

    def _exception_handlers(self, app: Any, baseline: Any) -> Dict:
        items = []
        for key, handler in app.exception_handlers.items():
            if baseline.exception_handlers.get(key) is handler:
                continue
            label = key if isinstance(key, int) else getattr(key, "__name__", repr(key))
            items.append(
                (
                    self.expr(key, "an exception handler's exception"),
                    self.expr(handler, f"the exception handler for {label}"),
                )
            )
        return Dict(tuple(items))

    def _lifespan(self, app: Any) -> list[tuple[str, Expr]]:
        parts = list(_lifespan_parts(app.router.lifespan_context))
        startup = list(app.router.on_startup)
        shutdown = list(app.router.on_shutdown)
        defaults = [part for part in parts if type(part).__name__ == "_DefaultLifespan"]
        custom = [part for part in parts if part not in defaults]
        # Included routers' on_event handlers run from their own default lifespans too.
        foreign = [part for part in defaults if getattr(part, "_router", None) is not app.router]
        if len(custom) > 1 or (custom and (startup or shutdown)) or foreign:
            raise NotRebuildable(
                "the app's lifespan combines several parts (lifespans of included routers "
                "or on_event handlers), which fastsplit cannot rebuild by reference"
            )
        if custom:
            return [("lifespan", self._lifespan_ref(custom[0]))]
        events: list[tuple[str, Expr]] = []
        for name, handlers in (("on_startup", startup), ("on_shutdown", shutdown)):
            if handlers:
                items = tuple(self.expr(h, f"{name} handler {_label(h)}") for h in handlers)
                events.append((name, Seq("list", items)))
        return events

    def _lifespan_ref(self, lifespan: Any) -> Ref:
        """FastAPI wraps generator lifespans; the user's own function is what to pass."""
        problem: NotRebuildable | None = None
        wrapped = getattr(lifespan, "__wrapped__", None)
        for candidate in (lifespan, wrapped, inspect.unwrap(lifespan)):
            if candidate is None:
                continue
            try:
                return self.ref(candidate, "the lifespan")
            except NotRebuildable as exc:
                problem = problem or exc
        assert problem is not None
        raise problem

    # --- routes -------------------------------------------------------------------

    def route(self, original: Any, effective: Any) -> SlimRoute:
        """How to add this route to a rebuilt app: the options that differ from what
        ``add_api_route`` gives a fresh app (the router's prefix, tags and dependencies
        are part of the effective route, so they are recorded as the route's own)."""
        from fastapi import FastAPI
        from fastapi.routing import APIRoute, APIRouter

        if not isinstance(original, APIRoute):
            raise NotRebuildable(
                f"it is a plain Starlette {type(original).__name__}, not a FastAPI route"
            )
        endpoint = self.ref(effective.endpoint, "endpoint")
        baseline = _baseline_route(effective)
        on_app = parameters(FastAPI.add_api_route)
        kwargs: list[tuple[str, Expr]] = [
            ("methods", Seq("list", tuple(Const(m) for m in sorted(effective.methods))))
        ]
        for name, parameter in parameters(APIRouter.add_api_route).items():
            if name in ("self", "path", "endpoint", "methods"):
                continue
            if name == "route_class_override":
                if type(original) is not APIRoute:
                    kwargs.append((name, self.ref(type(original), "the route class")))
                continue
            value = _route_value(original, effective, name)
            if value is _MISSING:
                continue
            default = _route_value(baseline, baseline, name) if baseline else parameter.default
            if default is _MISSING:
                default = parameter.default
            if name in _EXACT_OPTIONS:
                if _same_exactly(value, default):
                    continue
            elif _same(value, default) or (_empty(value) and _empty(_unwrap(default))):
                continue
            if name == "dependencies":
                items = tuple(self.depends(d, "a route dependency") for d in value)
                kwargs.append((name, Seq("list", items)))
                continue
            kept = value if name in _EXACT_OPTIONS else _unwrap(value)
            kwargs.append((name, self.expr(kept, f"route option {name}")))
        via_router = any(name not in on_app for name, _ in kwargs)
        return SlimRoute(endpoint, tuple(kwargs), via_router=via_router)


def describe_routes(
    describer: Describer,
    app: Any,
    *,
    routes: list[tuple[Any, Any]],
    paths: Callable[[], dict[str, dict[str, Any]]] | None = None,
) -> list[SlimRoute | str]:
    """Recipes of ``(original, effective)`` routes of ``app``, each with its OpenAPI
    operations; a string instead of a recipe says why that route cannot be rebuilt.
    ``paths`` gives the app's :func:`~fastsplit.fingerprint.openapi_paths` when they
    are made elsewhere (by default, here)."""
    from dataclasses import replace

    described: list[SlimRoute | str] = []
    for original, effective in routes:
        try:
            described.append(describer.route(original, effective))
        except NotRebuildable as exc:
            described.append(str(exc))
    rebuildable = [
        effective
        for (_, effective), d in zip(routes, described, strict=True)
        if isinstance(d, SlimRoute)
    ]
    if not rebuildable:
        return described
    found = paths() if paths is not None else openapi_paths(app)
    operations = iter([route_operations(found, route) for route in rebuildable])
    return [
        replace(d, openapi=next(operations)) if isinstance(d, SlimRoute) else d for d in described
    ]


def fingerprint(app: Any, *, app_module: str, app_dir: str) -> dict[str, Any]:
    """What the proof compares: the app's recipe and every route's, with its OpenAPI
    operations, as JSON (:func:`fastsplit.fingerprint.expected_fingerprint` gives the
    monolith's side)."""
    from fastsplit.parser import iter_routes

    describer = Describer(app_module=app_module, app_dir=Path(app_dir).resolve())
    try:
        described_app: Any = to_json(describer.app(app))
    except NotRebuildable as exc:
        described_app = {"not_rebuildable": str(exc)}
    routes = list(iter_routes(app))
    described = describe_routes(describer, app, routes=routes)
    return {
        "app": described_app,
        "routes": [
            to_json(d) if isinstance(d, SlimRoute) else {"not_rebuildable": d} for d in described
        ],
    }


# --- helpers ----------------------------------------------------------------------

_MISSING: Any = object()


def _resolve(module: str, qualname: str) -> Any:
    found: Any = sys.modules.get(module)
    for part in qualname.split("."):
        found = getattr(found, part, _MISSING)
        if found is _MISSING:
            return _MISSING
    return found


def _lifespan_parts(lifespan: Any) -> Iterator[Any]:
    """The lifespans that FastAPI chained when routers were included (each
    ``include_router`` merges the router's lifespan, even a default one)."""
    inner = getattr(lifespan, "__wrapped__", None)
    if getattr(lifespan, "__qualname__", "").endswith(_MERGED_LIFESPAN) and inner is not None:
        cells = dict(zip(inner.__code__.co_freevars, inner.__closure__ or (), strict=False))
        for name in ("original_context", "nested_context"):
            if name in cells:
                yield from _lifespan_parts(cells[name].cell_contents)
        return
    if type(lifespan).__name__ == "_DefaultLifespan":
        router = getattr(lifespan, "_router", None)
        if router is not None and not router.on_startup and not router.on_shutdown:
            return  # runs nothing
    yield lifespan


def _baseline_route(effective: Any) -> Any:
    """The route ``add_api_route`` makes on a fresh app from the path and endpoint only:
    what every option is when it is not given (inferred response model, name, ...)."""
    from fastapi import FastAPI

    for endpoint in (_stand_in(effective.endpoint), effective.endpoint):
        if endpoint is None:
            continue
        app = FastAPI(openapi_url=None)
        try:
            app.add_api_route(effective.path, endpoint, methods=sorted(effective.methods))
        except Exception:  # e.g. an inferred response model on a 204 route
            continue
        return app.router.routes[-1]
    return None


def _plain() -> None: ...


async def _coroutine() -> None: ...


def _generator() -> Iterator[None]:
    yield


async def _async_generator() -> Any:
    yield


def _stand_in(endpoint: Any) -> Any:
    """A function without parameters that FastAPI takes for ``endpoint`` in all a route's
    defaults come from: its name, docstring, return annotation (read in the endpoint's
    globals) and kind (coroutine, generator...). Analysing the parameters is most of
    making a route, and no option's default depends on them. None for anything but a
    plain, undecorated function (its signature or globals could come from elsewhere)."""
    if (
        type(endpoint) is not FunctionType
        or hasattr(endpoint, "__wrapped__")
        or hasattr(endpoint, "__signature__")
    ):
        return None
    if inspect.isasyncgenfunction(endpoint):
        template: Any = _async_generator
    elif inspect.isgeneratorfunction(endpoint):
        template = _generator
    elif inspect.iscoroutinefunction(endpoint):
        template = _coroutine
    else:
        template = _plain
    stand_in = FunctionType(template.__code__, endpoint.__globals__, endpoint.__name__)
    stand_in.__qualname__ = endpoint.__qualname__
    stand_in.__module__ = endpoint.__module__
    stand_in.__doc__ = endpoint.__doc__
    annotations = endpoint.__annotations__
    stand_in.__annotations__ = {"return": annotations["return"]} if "return" in annotations else {}
    return stand_in


def _route_value(original: Any, effective: Any, name: str) -> Any:
    for source in (effective, original):
        try:
            return getattr(source, name)
        except AttributeError:
            continue
    return _MISSING


def _read(read: Callable[[Any], Any], app: Any) -> Any:
    try:
        return read(app)
    except AttributeError:
        return _MISSING


def _unwrap(value: Any) -> Any:
    from fastapi.datastructures import DefaultPlaceholder

    return value.value if isinstance(value, DefaultPlaceholder) else value


def _same(a: Any, b: Any) -> bool:
    a, b = _unwrap(a), _unwrap(b)
    try:
        return a is b or bool(a == b)
    except Exception:
        return False


def _same_exactly(a: Any, b: Any) -> bool:
    from fastapi.datastructures import DefaultPlaceholder

    if isinstance(a, DefaultPlaceholder) != isinstance(b, DefaultPlaceholder):
        return False
    return _same(a, b)


def _empty(value: Any) -> bool:
    return value is None or (isinstance(value, list | dict | tuple | set) and not value)


def _label(obj: Any) -> str:
    return str(getattr(obj, "__qualname__", None) or type(obj).__name__)


def _article(word: str) -> str:
    return f"an {word}" if word[:1].lower() in "aeiou" else f"a {word}"
