"""API Gateway (HTTP API) route selection over a build's functions.

Given the routes a build declares (method + path in gateway syntax, ``ANY``,
``$default``), pick the function a request goes to, as the HTTP API does: the most
specific path wins (literal segment over ``{param}`` over greedy ``{param+}``), then an
exact method over ``ANY``; nothing matching goes to ``$default``.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class GatewayRoute:
    method: str
    path: str
    function: str


def select(routes: Iterable[GatewayRoute], method: str, path: str) -> GatewayRoute | None:
    """The route a request for ``method path`` is sent to, or None (the gateway's 404)."""
    best: tuple[tuple[int, ...], GatewayRoute] | None = None
    default: GatewayRoute | None = None
    request = _segments(path)
    for route in routes:
        if route.path == "$default":
            default = route
            continue
        if route.method not in (method.upper(), "ANY"):
            continue
        score = _match(_segments(route.path), request)
        if score is None:
            continue
        key = (*score, 1 if route.method != "ANY" else 0)
        if best is None or key > best[0]:
            best = (key, route)
    return best[1] if best is not None else default


def _segments(path: str) -> list[str]:
    # "/users/" keeps its empty last segment: it is not the route "/users".
    return path.split("/")[1:]


def _match(pattern: Sequence[str], request: Sequence[str]) -> tuple[int, ...] | None:
    """Per-segment specificity (2 literal, 1 parameter, 0 greedy), or None if no match."""
    score: list[int] = []
    for position, part in enumerate(pattern):
        if part.startswith("{") and part.endswith("+}"):
            # A greedy parameter takes one or more remaining segments, not nothing.
            rest = request[position:]
            return (*score, 0) if rest and any(rest) else None
        if position >= len(request):
            return None
        if part.startswith("{") and part.endswith("}"):
            if not request[position]:
                return None
            score.append(1)
        elif part == request[position]:
            score.append(2)
        else:
            return None
    return tuple(score) if len(request) == len(pattern) else None


def routes_from_manifest(manifest: dict[str, object]) -> list[GatewayRoute]:
    """Every gateway route a build's ``manifest.json`` declares."""
    routes = []
    functions = manifest.get("functions", [])
    assert isinstance(functions, list)
    for function in functions:
        for event in function["events"]:
            routes.append(GatewayRoute(event["method"], event["path"], function["name"]))
    return routes
