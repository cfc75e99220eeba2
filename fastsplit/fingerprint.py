"""What the build-time proof compares: recipes and OpenAPI operations as JSON.

Two processes describe an app (the parser the monolith, the probe the rebuilt one);
equal JSON means equal descriptions. OpenAPI operations are compared with every
``$ref`` resolved, so the schema names FastAPI picks (which depend on the other routes
of an app) do not matter, only the schemas.
"""

from __future__ import annotations

import inspect
import json
import warnings
from typing import Any

from fastsplit.model import Call, Const, Dict, Expr, Ref, Seq, SlimApp, SlimRoute


def expected_fingerprint(app: SlimApp, routes: list[SlimRoute]) -> dict[str, Any]:
    """The fingerprint a rebuilt app must have: the monolith's recipes."""
    return {"app": to_json(app), "routes": [to_json(route) for route in routes]}


# --- OpenAPI ----------------------------------------------------------------------


def openapi_operations(app: Any, effective_routes: list[Any]) -> list[str]:
    """Each route's OpenAPI operations, canonical JSON with every ``$ref`` resolved, so
    that two apps compare equal when their operations are, whatever their schema names."""
    from fastapi.openapi.utils import get_openapi

    accepted = inspect.signature(get_openapi).parameters
    options = {
        "title": app.title,
        "version": app.version,
        "openapi_version": getattr(app, "openapi_version", "3.1.0"),
        "routes": app.routes,
        "separate_input_output_schemas": getattr(app, "separate_input_output_schemas", True),
    }
    with warnings.catch_warnings():
        # FastAPI warns about duplicate operation ids (one route, two methods): the
        # monolith and the rebuilt app both do; it is not what is compared here.
        warnings.simplefilter("ignore")
        schema = get_openapi(**{k: v for k, v in options.items() if k in accepted})
    paths = schema.get("paths", {})
    components = schema.get("components", {})
    out = []
    for route in effective_routes:
        operations = paths.get(route.path_format, {})
        found = {}
        for method in sorted(route.methods):
            operation = operations.get(method.lower())
            if operation is None:
                continue
            schemes = components.get("securitySchemes", {})
            names = sorted({name for entry in operation.get("security", []) for name in entry})
            found[method] = {
                "operation": _resolve_refs(operation, components, ()),
                "security_schemes": {name: schemes.get(name) for name in names},
            }
        out.append(json.dumps(found, sort_keys=True, separators=(",", ":")))
    return out


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
