"""Requests for ``fastsplit verify``: generated from the build and the OpenAPI schema,
or recorded by the user.

For every route of the build: a valid request (path, query, header and body values
taken from the schema's examples and defaults, or made up to fit the types and
constraints), then deliberately invalid ones (a wrong type for a path or query
parameter, a missing required parameter, a body missing required fields, a body of the
wrong type, malformed JSON). Also requests no route takes (the fallback's 404, 405 and
trailing-slash redirect) and the static files of mounts. A request that turns out to be
invalid where it was meant to be valid is no problem: both sides get the same one, and
only their answers are compared. Safe methods come first and DELETE last, so that as
much as possible is compared before the app's data changes.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

from fastsplit.local.deployment import LocalError
from fastsplit.local.schema import Schema

_ORDER = {"GET": 0, "HEAD": 0, "OPTIONS": 0, "POST": 1, "PUT": 2, "PATCH": 2, "DELETE": 3}
_CONVERTER_VALUES = {
    "int": "1",
    "float": "1.5",
    "path": "example/file.txt",
    "uuid": "00000000-0000-4000-8000-000000000001",
}
_NOT_A_NUMBER = "not-a-number"


@dataclass(frozen=True)
class Case:
    """One request, sent alike to the monolith and to the split. ``path`` is decoded."""

    method: str
    path: str
    query: tuple[tuple[str, str], ...] = ()
    headers: tuple[tuple[str, str], ...] = ()
    body: bytes = b""
    note: str = ""
    """Why this request: ``valid``, ``invalid: ...``, ``recorded``, ``no route``."""

    @property
    def label(self) -> str:
        query = "&".join(f"{k}={v}" for k, v in self.query)
        return f"{self.method} {self.path}{'?' + query if query else ''}"

    def with_json(self, data: Any) -> Case:
        return self.with_body(json.dumps(data).encode(), "application/json")

    def with_body(self, body: bytes, content_type: str) -> Case:
        headers = [(k, v) for k, v in self.headers if k.lower() != "content-type"]
        return replace(self, headers=(*headers, ("content-type", content_type)), body=body)


def generate(
    manifest: dict[str, Any], openapi: dict[str, Any] | None, *, read_only: bool = False
) -> list[Case]:
    """Requests covering every function of the build, in a state-friendly order."""
    schema = Schema(openapi or {})
    cases: list[Case] = []
    for function in manifest["functions"]:
        kind = function.get("kind")
        if kind == "mount":
            cases.extend(_mount_cases(function))
            continue
        for route in function.get("routes", []):
            for method in route["methods"]:
                operation = schema.operation(method, _path_format(route["path"]))
                cases.extend(_route_cases(method, route, operation, schema))
    if any(function.get("kind") == "fallback" for function in manifest["functions"]):
        cases.extend(_fallback_cases(manifest))
    cases = sorted(cases, key=lambda case: _ORDER.get(case.method, 1))
    return [case for case in cases if not read_only or _ORDER.get(case.method) == 0]


def load_cases(path: Path) -> list[Case]:
    """Recorded requests: a JSON list of ``{"method", "path", "query", "headers",
    "json" | "body"}`` objects (``path`` may carry the query string)."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise LocalError(f"cannot read --cases {path}: {exc.strerror}") from None
    except ValueError as exc:
        raise LocalError(f"--cases {path} is not valid JSON ({exc}); fix the file") from None
    if isinstance(data, dict):
        data = data.get("cases")
    if not isinstance(data, list):
        raise LocalError(f"--cases {path} must hold a list of requests (or {{'cases': [...]}})")
    return [_recorded(entry, f"{path} case {index + 1}") for index, entry in enumerate(data)]


def _recorded(entry: Any, where: str) -> Case:
    if not isinstance(entry, dict) or not isinstance(entry.get("path"), str):
        raise LocalError(f"{where}: each case needs at least a 'path' (and a 'method')")
    unknown = set(entry) - {"method", "path", "query", "headers", "json", "body", "name"}
    if unknown:
        raise LocalError(f"{where}: unknown key(s) {', '.join(sorted(unknown))}")
    target = urlsplit(entry["path"])
    if not target.path.startswith("/"):
        raise LocalError(f"{where}: path {entry['path']!r} must start with '/'")
    try:
        query = [*parse_qsl(target.query, keep_blank_values=True), *_pairs(entry.get("query"))]
        headers = tuple(_pairs(entry.get("headers")))
    except (TypeError, ValueError):
        raise LocalError(
            f"{where}: 'query' and 'headers' must be objects (name: value or [values])"
        ) from None
    case = Case(
        method=str(entry.get("method", "GET")).upper(),
        path=unquote(target.path),  # cases hold decoded paths; sending encodes them
        query=tuple(query),
        headers=headers,
        note=f"recorded{': ' + str(entry['name']) if entry.get('name') else ''}",
    )
    if "json" in entry:
        return case.with_json(entry["json"])
    if "body" in entry:
        if not isinstance(entry["body"], str):
            raise LocalError(f"{where}: 'body' must be a string (use 'json' for data)")
        return replace(case, body=entry["body"].encode())
    return case


def _pairs(value: Any) -> Iterator[tuple[str, str]]:
    if value is None:
        return
    items = value.items() if isinstance(value, dict) else value
    for item in items:
        name, values = item
        for one in values if isinstance(values, list) else [values]:
            yield str(name), str(one)


def _path_format(path: str) -> str:
    return re.sub(r"{([^}:]+)(:[^}]+)?}", r"{\1}", path)


def _route_cases(
    method: str, route: dict[str, Any], operation: dict[str, Any] | None, schema: Schema
) -> list[Case]:
    params = schema.parameters(operation)
    values = {
        name: _CONVERTER_VALUES.get(conv, "example") for name, conv in route["params"].items()
    }
    for param in params:
        if param["in"] == "path" and route["params"].get(param["name"], "str") == "str":
            values[param["name"]] = str(schema.example(param.get("schema", {}), param["name"]))
    path = _fill(route["path"], values)
    query = [
        (p["name"], _text(schema.example(p.get("schema", {}), p["name"])))
        for p in params
        if p["in"] == "query" and p.get("required")
    ]
    headers = [
        (p["name"], _text(schema.example(p.get("schema", {}), p["name"])))
        for p in params
        if p["in"] == "header" and p.get("required")
    ]
    valid = Case(method, path, tuple(query), tuple(headers), note="valid")
    body_schema = schema.json_body(operation)
    if body_schema is not None:
        valid = valid.with_json(schema.example(body_schema, "body"))
    cases = [valid]
    optional = [p for p in params if p["in"] == "query" and not p.get("required")]
    if optional:
        extra = [
            (p["name"], _text(schema.example(p.get("schema", {}), p["name"]))) for p in optional
        ]
        cases.append(replace(valid, query=(*valid.query, *extra), note="valid, all parameters"))
    cases.extend(_invalid_cases(valid, route, params, body_schema, schema))
    return cases


def _invalid_cases(
    valid: Case,
    route: dict[str, Any],
    params: list[dict[str, Any]],
    body_schema: dict[str, Any] | None,
    schema: Schema,
) -> Iterator[Case]:
    typed = {"integer", "number", "boolean"}
    for name, converter in route["params"].items():
        if converter in ("int", "float", "uuid"):
            path = _fill(
                route["path"], {**dict.fromkeys(route["params"], "1"), name: _NOT_A_NUMBER}
            )
            yield replace(valid, path=path, note=f"invalid: path {name} not a {converter}")
            break
    for param in params:
        if param["in"] == "query" and schema.type_of(param.get("schema", {})) in typed:
            kept = [(k, v) for k, v in valid.query if k != param["name"]]
            bad = (*kept, (param["name"], _NOT_A_NUMBER))
            yield replace(valid, query=bad, note=f"invalid: query {param['name']} wrong type")
            break
    for where in ("query", "header"):
        required = [p["name"] for p in params if p["in"] == where and p.get("required")]
        if required:
            name = required[0]
            query = tuple(p for p in valid.query if where != "query" or p[0] != name)
            headers = tuple(
                p for p in valid.headers if where != "header" or p[0].lower() != name.lower()
            )
            note = f"invalid: {where} {name} missing"
            yield replace(valid, query=query, headers=headers, note=note)
    if body_schema is None:
        return
    if schema.resolve(body_schema).get("required"):
        yield replace(valid.with_json({}), note="invalid: body without required fields")
    yield replace(valid.with_json([_NOT_A_NUMBER]), note="invalid: body of the wrong type")
    yield replace(valid.with_body(b'{"', "application/json"), note="invalid: malformed JSON")


def _mount_cases(function: dict[str, Any]) -> Iterator[Case]:
    prefix = function["routes"][0]["path"].rstrip("/")
    yield Case("GET", f"{prefix}/fastsplit-verify-missing.txt", note="mount, missing file")
    # Static files a mount serves usually sit in a folder named like the mount
    # (``app/static/x.css`` for ``/static``): request those the function carries.
    folder = prefix.rsplit("/", 1)[-1]
    for file in function.get("files", []):
        parts = file.split("/")
        if folder in parts[:-1] and not file.endswith((".py", ".pyc")):
            relative = "/".join(parts[len(parts) - parts[::-1].index(folder) :])
            yield Case("GET", f"{prefix}/{relative}", note="mount, static file")


def _fallback_cases(manifest: dict[str, Any]) -> Iterator[Case]:
    yield Case("GET", "/fastsplit-verify/no-such-route", note="no route")
    routes = [r for f in manifest["functions"] if f.get("kind") == "route" for r in f["routes"]]
    literal = next((r for r in routes if "{" not in r["path"] and r["path"] != "/"), None)
    if literal is not None:
        yield Case("GET", literal["path"] + "/", note="no route: trailing slash")
        other = next((m for m in ("DELETE", "PUT", "POST") if m not in literal["methods"]), None)
        if other is not None:
            yield Case(other, literal["path"], note="no route: method not allowed")


def _fill(path: str, values: dict[str, str]) -> str:
    return re.sub(r"{([^}:]+)(:[^}]+)?}", lambda m: values.get(m.group(1), "example"), path)


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return _text(value[0]) if value else ""
    return str(value)
