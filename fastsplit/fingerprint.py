"""What the build-time proof compares: recipes and OpenAPI operations as JSON.

Two processes describe an app (the parser the monolith, the probe the rebuilt one);
equal JSON means equal descriptions. OpenAPI operations are compared with every
``$ref`` resolved, so the schema names FastAPI picks (which depend on the other routes
of an app) do not matter, only the schemas.
"""

from __future__ import annotations

import hashlib
import inspect
import json
import warnings
import weakref
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from functools import cache
from types import ModuleType
from typing import Any

from fastsplit.model import Call, Const, Dict, Expr, Ref, Seq, SlimApp, SlimRoute


def expected_fingerprint(app: SlimApp, routes: list[SlimRoute]) -> dict[str, Any]:
    """The fingerprint a rebuilt app must have: the monolith's recipes."""
    return {"app": to_json(app), "routes": [to_json(route) for route in routes]}


# --- OpenAPI ----------------------------------------------------------------------


def openapi_paths(app: Any) -> dict[str, dict[str, Any]]:
    """Every operation of the app's OpenAPI schema, by path and method (upper case),
    each with every ``$ref`` resolved, so that two apps compare equal when their
    operations are, whatever their schema names; and the security schemes it names."""
    from fastapi.openapi.utils import get_openapi

    accepted = parameters(get_openapi)
    options = {
        "title": app.title,
        "version": app.version,
        "openapi_version": getattr(app, "openapi_version", "3.1.0"),
        "routes": app.routes,
        "separate_input_output_schemas": getattr(app, "separate_input_output_schemas", True),
    }
    with warnings.catch_warnings(), _model_fields_remembered():
        # FastAPI warns about duplicate operation ids (one route, two methods): the
        # monolith and the rebuilt app both do; it is not what is compared here.
        warnings.simplefilter("ignore")
        schema = get_openapi(**{k: v for k, v in options.items() if k in accepted})
    components = schema.get("components", {})
    schemes = components.get("securitySchemes", {})
    paths: dict[str, dict[str, Any]] = {}
    for path, operations in schema.get("paths", {}).items():
        for method, operation in operations.items():
            if not isinstance(operation, dict):
                continue  # path-level parameters, summary, ...: not operations
            names = sorted({name for entry in operation.get("security", []) for name in entry})
            paths.setdefault(path, {})[method.upper()] = {
                "operation": _resolve_refs(operation, components, ()),
                "security_schemes": {name: schemes.get(name) for name in names},
            }
    return paths


# model class -> (its fields dict when they were made, FastAPI's ModelFields of them)
_MODEL_FIELDS: weakref.WeakKeyDictionary[type, tuple[Any, list[Any]]] = weakref.WeakKeyDictionary()


@contextmanager
def _model_fields_remembered() -> Iterator[None]:
    """While a schema is made, FastAPI's ``_compat.v2.get_model_fields`` makes each model's
    ModelFields (a pydantic TypeAdapter each) once, not every time: FastAPI makes them
    for every model a route reaches, in every schema, only to read the fields' annotations
    (a third of describing a one-route app, which the proof does for every function,
    mostly with the models of the functions before it). They are made again when the
    model's fields are no longer the same dict (``model_rebuild`` replaces it). A FastAPI
    without that function runs its own code."""
    try:
        from fastapi._compat import v2
    except ImportError:
        yield
        return
    made = getattr(v2, "get_model_fields", None)
    if not callable(made):
        yield
        return

    def remembered(model: Any) -> list[Any]:
        fields = model.model_fields
        entry = _MODEL_FIELDS.get(model)
        if entry is None or entry[0] is not fields:
            entry = _MODEL_FIELDS[model] = (fields, made(model))
        return list(entry[1])  # the caller's own list, as FastAPI's is

    v2.get_model_fields = remembered
    try:
        yield
    finally:
        v2.get_model_fields = made


@cache
def parameters(func: Callable[..., Any]) -> Mapping[str, inspect.Parameter]:
    """The parameters of one of FastAPI's functions, worked out once per process (the
    recipes of every route, and the probe's for every function, read the same ones)."""
    return inspect.signature(func).parameters


def route_operations(paths: dict[str, dict[str, Any]], route: Any) -> str:
    """The operations of one effective route in :func:`openapi_paths`, canonical JSON."""
    operations = paths.get(route.path_format, {})
    found = {m: operations[m] for m in sorted(route.methods) if m in operations}
    return json.dumps(found, sort_keys=True, separators=(",", ":"))


def _resolve_refs(node: Any, components: dict[str, Any], stack: tuple[str, ...]) -> Any:
    if isinstance(node, list):
        return [_resolve_refs(item, components, stack) for item in node]
    if not isinstance(node, dict):
        return node
    resolved = {k: _resolve_refs(v, components, stack) for k, v in node.items() if k != "$ref"}
    ref = node.get("$ref")
    if isinstance(ref, str) and ref.startswith("#/components/"):
        if ref in stack:
            # A recursive schema: name the level it points back to, not the schema name.
            resolved["$recursive"] = len(stack) - stack.index(ref)
        else:
            target: Any = components
            for part in ref.removeprefix("#/components/").split("/"):
                target = target.get(part, {}) if isinstance(target, dict) else {}
            resolved["$resolved"] = _resolve_refs(target, components, (*stack, ref))
    elif ref is not None:
        resolved["$ref"] = ref
    return resolved


# --- JSON forms, for comparing what two processes describe --------------------------


def to_json(value: Any) -> Any:
    """A recipe (or part of one) as JSON data: equal JSON, equal recipe."""
    if isinstance(value, Const):
        if isinstance(value.value, bytes):
            return {"bytes": value.value.hex()}
        return {"const": value.value}
    if isinstance(value, Ref):
        return {"ref": str(value)}
    if isinstance(value, Seq):
        return {"seq": value.kind, "items": [to_json(item) for item in value.items]}
    if isinstance(value, Dict):
        return {"dict": [[to_json(k), to_json(v)] for k, v in value.items]}
    if isinstance(value, Call):
        return {
            "call": str(value.func),
            "args": [to_json(arg) for arg in value.args],
            "kwargs": [[name, to_json(arg)] for name, arg in value.kwargs],
        }
    if isinstance(value, SlimApp):
        return {
            "factory": str(value.factory),
            "settings": [[name, to_json(arg)] for name, arg in value.kwargs],
            "dependency_overrides": [
                [to_json(key), to_json(override)] for key, override in value.dependency_overrides
            ],
        }
    if isinstance(value, SlimRoute):
        return {
            "endpoint": str(value.endpoint),
            "options": [[name, to_json(arg)] for name, arg in value.kwargs],
            "via_router": value.via_router,
            "openapi": json.loads(value.openapi) if value.openapi else None,
        }
    raise TypeError(f"not a recipe: {value!r}")


def sort_key(value: Expr) -> str:
    return json.dumps(to_json(value), sort_keys=True)


# --- module state -----------------------------------------------------------------

_PLAIN = (type(None), bool, int, float, str, bytes)
_LONG = 200


def module_state(module: ModuleType) -> dict[str, str]:
    """The module's globals (and its own classes' attributes) as comparable text.

    The module that assembles an app may change other modules as it runs (a setting, a
    registry, a configured client): a rebuilt app, which never runs it, would see them
    unchanged. Plain data is compared by value, functions, classes and modules by name,
    anything else by its type only (its state cannot be compared across processes).
    """
    state: dict[str, str] = {}
    name = module.__name__
    prefix = name + "."
    # Inlined checks: the module that holds an app's models can have thousands of names.
    for key, value in vars(module).items():
        if (key[:2] == "__" and key[-2:] == "__") or (
            isinstance(value, ModuleType) and value.__name__.startswith(prefix)
        ):
            continue  # submodules are bound to their package only once they are imported
        state[key] = _text(value)
        if isinstance(value, type) and value.__module__ == name:
            # Keys first: a dunder's value (pydantic's schema, validator...) is never
            # read, so a forked proof does not copy the memory it lives in.
            attributes = vars(value)
            for attribute in attributes:
                if not (attribute[:2] == "__" and attribute[-2:] == "__"):
                    item = attributes[attribute]
                    if _plain(item):
                        state[f"{key}.{attribute}"] = _plain_text(item)
    return dict(sorted(state.items()))


def state_digest(state: dict[str, str]) -> str:
    """A short fingerprint of a :func:`module_state`: the proof sends the monolith's to
    the probe, which answers with the full state only of the modules that differ."""
    return hashlib.sha256(json.dumps(state, sort_keys=True).encode()).hexdigest()


def _plain(value: Any, depth: int = 0) -> bool:
    if type(value) in _PLAIN:
        return True
    if depth > 4:
        return False
    if type(value) in (list, tuple, set, frozenset):
        return all(_plain(item, depth + 1) for item in value)
    if type(value) is dict:
        return all(_plain(k, depth + 1) and _plain(v, depth + 1) for k, v in value.items())
    return False


def _text(value: Any) -> str:
    if _plain(value):
        return _plain_text(value)
    if isinstance(value, ModuleType):
        return f"module {value.__name__}"
    qualname = getattr(value, "__qualname__", None)
    module = getattr(value, "__module__", None)
    if (isinstance(value, type) or callable(value)) and isinstance(qualname, str):
        return f"{module}:{qualname}"
    return f"a {type(value).__module__}.{type(value).__qualname__} object"


def _plain_text(value: Any) -> str:
    text = repr(sorted(value, key=repr)) if type(value) in (set, frozenset) else repr(value)
    if len(text) > _LONG:
        return f"{text[:_LONG]}… (sha256 {hashlib.sha256(text.encode()).hexdigest()[:16]})"
    return text
