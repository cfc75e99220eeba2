"""A local API Gateway (HTTP API) in front of a split app's functions.

:class:`Gateway` does what the HTTP API does with one request: pick the function by
method and path from the build's route table (``fastsplit.gateway.select``: greedy
paths, ``ANY`` and ``$default`` included; nothing matching is the gateway's own 404),
turn the request into a payload 2.0 event, invoke the function's worker and turn its
answer back into HTTP. :class:`GatewayServer` serves it over real HTTP with the standard
library's threading server, bound only to the address it is given.

Answers when the function gives none: 500 when the handler raised (as the HTTP API
answers a function error), 502 when the function could not run at all (failed to import,
its process died, its response is not a valid Lambda response), 504 when it went over
its timeout, 413 when the request is over the HTTP API's or Lambda's size limits.
"""

from __future__ import annotations

import sys
import threading
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from fastsplit.gateway import select
from fastsplit.local.events import (
    REQUEST_LIMIT,
    HttpRequest,
    HttpResponse,
    InvalidResponse,
    gateway_error,
    http_api_event,
    http_response,
)
from fastsplit.local.pool import WorkerPool
from fastsplit.local.worker import FunctionError

_ERROR_STATUS = {"handler": 500, "init": 502, "crash": 502, "payload": 413, "timeout": 504}
_ERROR_MESSAGE = {
    500: "Internal Server Error",
    502: "Bad Gateway",
    504: "Gateway Timeout",
    413: "Request Entity Too Large",
}


@dataclass(frozen=True)
class RequestRecord:
    """One request through the gateway: what the log line says."""

    method: str
    path: str
    function: str | None
    status: int
    duration_ms: float
    cold: bool = False
    init_ms: float = 0.0
    error: FunctionError | None = None
    pid: int | None = None


class Gateway:
    """Route, invoke and answer, one request at a time per function."""

    def __init__(
        self,
        pool: WorkerPool,
        *,
        on_request: Callable[[RequestRecord], None] | None = None,
        on_error: Callable[[str], None] | None = None,
    ) -> None:
        self.pool = pool
        self._on_request = on_request
        self._on_error = on_error

    def report_error(self, text: str) -> None:
        """A failure of the gateway itself (not of a function): a bug to report."""
        if self._on_error is not None:
            self._on_error(text)

    def handle(self, request: HttpRequest) -> HttpResponse:
        started = time.monotonic()
        route = select(self.pool.deployment.routes, request.method, request.path)
        if route is None:
            response = gateway_error(404, "Not Found")
            self._record(request, None, response.status, started)
            return response
        if len(request.body) > REQUEST_LIMIT:
            response = gateway_error(413, "Request Entity Too Large")
            self._record(request, route.function, response.status, started)
            return response
        event = http_api_event(request, route)
        invocation = self.pool.invoke(route.function, event)
        error = invocation.error
        if error is None:
            try:
                response = http_response(invocation.response)
            except InvalidResponse as exc:
                error = FunctionError("crash", "Runtime.InvalidResponse", str(exc))
        if error is not None:
            status = _ERROR_STATUS[error.kind]
            response = gateway_error(status, _ERROR_MESSAGE[status])
        self._record(
            request,
            route.function,
            response.status,
            started,
            cold=invocation.cold,
            init_ms=invocation.init_ms,
            error=error,
            pid=invocation.pid,
        )
        return response

    def _record(
        self,
        request: HttpRequest,
        function: str | None,
        status: int,
        started: float,
        **details: Any,
    ) -> None:
        if self._on_request is not None:
            duration = (time.monotonic() - started) * 1000 - details.get("init_ms", 0.0)
            self._on_request(
                RequestRecord(request.method, request.target, function, status, duration, **details)
            )


class GatewayServer(ThreadingHTTPServer):
    """The gateway over HTTP/1.1; ``url`` is where it listens (port 0 picks a free one)."""

    daemon_threads = True

    def __init__(self, gateway: Gateway, host: str = "127.0.0.1", port: int = 8000) -> None:
        self.gateway = gateway
        self._thread: threading.Thread | None = None
        super().__init__((host, port), _Handler)

    @property
    def url(self) -> str:
        host, port = self.server_address[:2]
        return f"http://{host!s}:{port}"

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A client that went away mid-answer is normal; anything else is reported."""
        error = sys.exc_info()[1]
        if not isinstance(error, ConnectionError | TimeoutError):
            self.gateway.report_error(traceback.format_exc())

    def start(self) -> str:
        """Serve from a background thread; returns the URL."""
        self._thread = threading.Thread(target=self.serve_forever, daemon=True, name="gateway")
        self._thread.start()
        return self.url

    def stop(self) -> None:
        """Stop accepting requests (the worker pool is the caller's to close)."""
        if self._thread is not None:
            self.shutdown()
            self._thread.join()
            self._thread = None
        self.server_close()


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "fastsplit"
    sys_version = ""
    timeout = 60  # an idle keep-alive connection is closed after this many seconds
    server: GatewayServer

    def _serve(self) -> None:
        try:
            body = self._read_body()
        except ValueError as exc:
            self.send_error(400, str(exc))
            return
        if body is None:
            self._write(gateway_error(413, "Request Entity Too Large"), head=False)
            self.close_connection = True
            return
        request = HttpRequest(
            method=self.command,
            target=self.path,
            headers=tuple(self.headers.items()),
            body=body,
            client_ip=self.client_address[0],
            server_port=self.server.server_address[1],
        )
        gateway = self.server.gateway
        try:
            response = gateway.handle(request)
        except Exception:
            gateway.report_error(traceback.format_exc())
            response = gateway_error(500, "Internal Server Error")
        self._write(response, head=self.command == "HEAD")

    do_GET = do_HEAD = do_POST = do_PUT = do_PATCH = do_DELETE = do_OPTIONS = _serve

    def _read_body(self) -> bytes | None:
        """The request body (None when over the limit, without reading it all)."""
        if "chunked" in self.headers.get("transfer-encoding", "").lower():
            return self._read_chunked()
        length = int(self.headers.get("content-length") or 0)
        if length < 0:
            raise ValueError("negative Content-Length")
        if length > REQUEST_LIMIT:
            return None
        return self.rfile.read(length)

    def _read_chunked(self) -> bytes | None:
        chunks: list[bytes] = []
        total = 0
        while True:
            size = int(self.rfile.readline().split(b";", 1)[0].strip() or b"0", 16)
            if size == 0:
                while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                    pass  # trailers
                return b"".join(chunks)
            total += size
            if total > REQUEST_LIMIT:
                return None
            chunks.append(self.rfile.read(size))
            self.rfile.readline()

    def _write(self, response: HttpResponse, *, head: bool) -> None:
        self.send_response_only(response.status)
        if not any(name.lower() == "date" for name, _ in response.headers):
            self.send_header("Date", self.date_time_string())
        for name, value in response.headers:
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(response.body)))
        self.end_headers()
        if not head:
            self.wfile.write(response.body)

    def log_message(self, format: str, *args: Any) -> None:
        """The gateway reports each request itself (``on_request``)."""
