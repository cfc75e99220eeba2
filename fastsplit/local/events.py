"""HTTP requests to API Gateway HTTP API events (payload 2.0), Lambda responses to HTTP.

What the HTTP API does, and so what these functions do: the path is URL-decoded
(``rawPath`` and ``requestContext.http.path`` alike) and routed decoded; header names are
lower-cased and repeated headers comma-joined; the ``Cookie`` header moves to the
``cookies`` list; query values are decoded into ``queryStringParameters`` (repeated names
comma-joined) while ``rawQueryString`` stays as sent; text bodies travel as text and
other bodies base64-encoded. On the way back, ``cookies`` become one ``Set-Cookie`` each,
base64 bodies are decoded, and a function returning JSON without ``statusCode`` gets a
200 with that JSON (the HTTP API's "inferred" response).
"""

from __future__ import annotations

import base64
import json
import time
import uuid
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

from fastsplit.gateway import GatewayRoute

#: HTTP API limits: the request (10 MB) and Lambda's synchronous payload (6 MB).
REQUEST_LIMIT = 10 * 1024 * 1024
PAYLOAD_LIMIT = 6 * 1024 * 1024

# Connection-level headers: they describe one hop, not the request the function gets.
HOP_BY_HOP = frozenset(
    {"connection", "keep-alive", "proxy-connection", "te", "trailer", "transfer-encoding"}
)
_TEXT_TYPES = ("text/", "json", "xml", "javascript")
_ACCOUNT = "123456789012"
_API_ID = "local"


@dataclass(frozen=True)
class HttpRequest:
    """One HTTP request as a client sent it (``target`` is the raw request target)."""

    method: str
    target: str
    headers: tuple[tuple[str, str], ...] = ()
    body: bytes = b""
    client_ip: str = "127.0.0.1"
    server_port: int = 80
    scheme: str = "http"

    @property
    def raw_path(self) -> str:
        return urlsplit(self.target).path or "/"

    @property
    def raw_query(self) -> str:
        return urlsplit(self.target).query

    @property
    def path(self) -> str:
        """The decoded path: what the HTTP API routes on and gives the function."""
        return unquote(self.raw_path)

    def header(self, name: str) -> str | None:
        values = [value for key, value in self.headers if key.lower() == name]
        return ",".join(values) if values else None


@dataclass(frozen=True)
class HttpResponse:
    status: int
    headers: tuple[tuple[str, str], ...]
    body: bytes


class InvalidResponse(ValueError):
    """The function's answer is not a Lambda proxy response the HTTP API accepts."""


def route_key(route: GatewayRoute | None) -> str:
    if route is None or route.path == "$default":
        return "$default"
    return f"{route.method} {route.path}"


def path_parameters(route_path: str, path: str) -> dict[str, str]:
    """``{"id": "1"}`` for route ``/users/{id}`` and path ``/users/1``; ``{p+}`` is greedy."""
    if route_path == "$default":
        return {}
    params: dict[str, str] = {}
    segments = path.split("/")[1:]
    for position, part in enumerate(route_path.split("/")[1:]):
        if not (part.startswith("{") and part.endswith("}")):
            continue
        if part.endswith("+}"):
            params[part[1:-2]] = "/".join(segments[position:])
            break
        if position < len(segments):
            params[part[1:-1]] = segments[position]
    return params


def http_api_event(
    request: HttpRequest, route: GatewayRoute | None, *, request_id: str | None = None
) -> dict[str, Any]:
    """The payload 2.0 event the HTTP API sends for ``request`` matched to ``route``."""
    request_id = request_id or str(uuid.uuid4())
    headers: dict[str, list[str]] = {}
    cookies: list[str] = []
    for name, value in request.headers:
        key = name.lower()
        if key == "cookie":
            cookies.extend(part.strip() for part in value.split(";") if part.strip())
        elif key not in HOP_BY_HOP:
            headers.setdefault(key, []).append(value)
    forwarded = [*headers.pop("x-forwarded-for", []), request.client_ip]
    headers["x-forwarded-for"] = [", ".join(forwarded)]
    headers.setdefault("x-forwarded-port", [str(request.server_port)])
    headers.setdefault("x-forwarded-proto", [request.scheme])
    headers.setdefault(
        "x-amzn-trace-id", [f"Root=1-{int(time.time()):08x}-{uuid.uuid4().hex[:24]}"]
    )
    host = headers.get("host", ["localhost"])[0]
    domain = host.rsplit(":", 1)[0] if not host.endswith("]") else host
    now = time.time()
    key = route_key(route)
    event: dict[str, Any] = {
        "version": "2.0",
        "routeKey": key,
        "rawPath": request.path,
        "rawQueryString": request.raw_query,
        "headers": {name: ",".join(values) for name, values in headers.items()},
        "requestContext": {
            "accountId": _ACCOUNT,
            "apiId": _API_ID,
            "domainName": domain,
            "domainPrefix": domain.split(".", 1)[0],
            "http": {
                "method": request.method,
                "path": request.path,
                "protocol": "HTTP/1.1",
                "sourceIp": request.client_ip,
                "userAgent": request.header("user-agent") or "",
            },
            "requestId": request_id,
            "routeKey": key,
            "stage": "$default",
            "time": time.strftime("%d/%b/%Y:%H:%M:%S +0000", time.gmtime(now)),
            "timeEpoch": int(now * 1000),
        },
        "isBase64Encoded": False,
    }
    # Keys without a value are left out of a 2.0 event rather than set to null.
    if cookies:
        event["cookies"] = cookies
    query: dict[str, list[str]] = {}
    for name, value in parse_qsl(request.raw_query, keep_blank_values=True):
        query.setdefault(name, []).append(value)
    if query:
        event["queryStringParameters"] = {name: ",".join(v) for name, v in query.items()}
    params = path_parameters(route.path, request.path) if route is not None else {}
    if params:
        event["pathParameters"] = params
    if request.body:
        body, encoded = _event_body(request.body, request.header("content-type"))
        event["body"] = body
        event["isBase64Encoded"] = encoded
    return event


def _event_body(body: bytes, content_type: str | None) -> tuple[str, bool]:
    """Text types (or no type) that decode as UTF-8 travel as text, the rest as base64."""
    textual = content_type is None or any(t in content_type.lower() for t in _TEXT_TYPES)
    if textual:
        try:
            return body.decode("utf-8"), False
        except UnicodeDecodeError:
            pass
    return base64.b64encode(body).decode("ascii"), True


def http_response(result: Any) -> HttpResponse:
    """The HTTP answer for a function's return value, as the HTTP API builds it."""
    if not (isinstance(result, dict) and "statusCode" in result):
        # Payload 2.0 "inferred" format: any JSON value without statusCode is the body.
        body = result if isinstance(result, str) else json.dumps(result)
        return HttpResponse(200, (("content-type", "application/json"),), body.encode())
    try:
        status = int(result["statusCode"])
    except (TypeError, ValueError):
        raise InvalidResponse(f"statusCode {result['statusCode']!r} is not a number") from None
    if not 100 <= status <= 599:
        raise InvalidResponse(f"statusCode {status} is not an HTTP status")
    headers: list[tuple[str, str]] = []
    for name, value in (result.get("headers") or {}).items():
        headers.append((str(name), str(value)))
    for name, values in (result.get("multiValueHeaders") or {}).items():
        if not isinstance(values, list):
            raise InvalidResponse(f"multiValueHeaders[{name!r}] is not a list")
        # A name in both maps takes the multi values (as API Gateway merges them).
        headers = [(k, v) for k, v in headers if k.lower() != str(name).lower()]
        headers.extend((str(name), str(value)) for value in values)
    headers.extend(("set-cookie", str(cookie)) for cookie in result.get("cookies") or [])
    raw = result.get("body") or ""
    if not isinstance(raw, str):
        raise InvalidResponse(f"body is a {type(raw).__name__}, not a string")
    try:
        data = base64.b64decode(raw, validate=True) if result.get("isBase64Encoded") else None
    except ValueError:
        raise InvalidResponse("isBase64Encoded is true but the body is not base64") from None
    headers = [(k, v) for k, v in headers if k.lower() not in HOP_BY_HOP | {"content-length"}]
    return HttpResponse(status, tuple(headers), data if data is not None else raw.encode())


def gateway_error(status: int, message: str) -> HttpResponse:
    """An answer the gateway itself gives (``{"message": "Not Found"}`` ...)."""
    body = json.dumps({"message": message}).encode()
    return HttpResponse(status, (("content-type", "application/json"),), body)
