"""Just enough of an OpenAPI 3 document to make requests: operations, parameters and
values that fit a schema (its examples and defaults first, else made up to fit the type,
format and bounds)."""

from __future__ import annotations

from typing import Any

_FORMATS = {
    "email": "user@example.com",
    "date": "2024-01-31",
    "date-time": "2024-01-31T12:00:00Z",
    "time": "12:00:00",
    "uuid": "00000000-0000-4000-8000-000000000001",
    "uri": "https://example.com/",
    "ipv4": "192.0.2.1",
}


class Schema:
    """Just enough of an OpenAPI 3 document: operations, parameters, example values."""

    def __init__(self, document: dict[str, Any]) -> None:
        self.document = document

    def operation(self, method: str, path: str) -> dict[str, Any] | None:
        item = self.document.get("paths", {}).get(path, {})
        found = item.get(method.lower())
        return found if isinstance(found, dict) else None

    def parameters(self, operation: dict[str, Any] | None) -> list[dict[str, Any]]:
        if operation is None:
            return []
        return [self.resolve(p) for p in operation.get("parameters", [])]

    def json_body(self, operation: dict[str, Any] | None) -> dict[str, Any] | None:
        if operation is None or "requestBody" not in operation:
            return None
        content = self.resolve(operation["requestBody"]).get("content", {})
        media = content.get("application/json")
        return media.get("schema", {}) if isinstance(media, dict) else None

    def resolve(self, node: Any) -> dict[str, Any]:
        seen = 0
        while isinstance(node, dict) and "$ref" in node and seen < 20:
            target: Any = self.document
            for part in node["$ref"].removeprefix("#/").split("/"):
                target = target.get(part, {}) if isinstance(target, dict) else {}
            node, seen = target, seen + 1
        return node if isinstance(node, dict) else {}

    def type_of(self, node: Any) -> str | None:
        node = self._choice(self.resolve(node))
        kind = node.get("type")
        return kind if isinstance(kind, str) else None

    def example(self, node: Any, name: str, depth: int = 0) -> Any:
        """A value that fits ``node`` (examples and defaults first)."""
        node = self._choice(self.resolve(node))
        for key in ("example", "default", "const"):
            if key in node:
                return node[key]
        for key in ("examples", "enum"):
            if isinstance(node.get(key), list) and node[key]:
                return node[key][0]
        kind = node.get("type")
        if kind == "object" or "properties" in node:
            if depth > 5:
                return {}
            return {
                prop: self.example(sub, prop, depth + 1)
                for prop, sub in node.get("properties", {}).items()
            }
        if kind == "array":
            count = max(1, int(node.get("minItems", 1)))
            return [self.example(node.get("items", {}), name, depth + 1)] * count
        if kind in ("integer", "number"):
            return _number(node, integer=kind == "integer")
        if kind == "boolean":
            return True
        return _string(node, name)

    def _choice(self, node: dict[str, Any]) -> dict[str, Any]:
        """The first non-null alternative of ``anyOf``/``oneOf``; ``allOf`` merged."""
        for key in ("anyOf", "oneOf"):
            options = [self.resolve(option) for option in node.get(key, [])]
            options = [option for option in options if option.get("type") != "null"]
            if options:
                return {**{k: v for k, v in node.items() if k != key}, **options[0]}
        if node.get("allOf"):
            merged: dict[str, Any] = {}
            for part in node["allOf"]:
                merged = {**merged, **self.resolve(part)}
            return merged
        return node


def _number(node: dict[str, Any], *, integer: bool) -> int | float:
    value: float = 1 if integer else 1.5
    if "minimum" in node:
        value = max(value, node["minimum"])
    if "exclusiveMinimum" in node:
        value = max(value, node["exclusiveMinimum"] + 1)
    if "maximum" in node:
        value = min(value, node["maximum"])
    return int(value) if integer else float(value)


def _string(node: dict[str, Any], name: str) -> str:
    fmt = node.get("format")
    if fmt in _FORMATS:
        return _FORMATS[fmt]
    if "email" in name.lower() or "@" in str(node.get("pattern", "")):
        return _FORMATS["email"]
    value = "example"
    minimum = int(node.get("minLength", 0))
    maximum = int(node.get("maxLength", len(value)))
    return (value + "x" * max(0, minimum - len(value)))[: max(maximum, minimum)]
