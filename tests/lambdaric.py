"""Run an unzipped Lambda artifact under the real AWS Lambda runtime client (awslambdaric).

``make lambdaric`` (tools/lambdaric.mk) installs awslambdaric into ``.tools/lambdaric``
with ``pip install --target`` and writes the path of the interpreter that installed it
(its native extension is built for that CPython) into ``.tools/lambdaric.stamp``.

:class:`RuntimeAPI` is a small Lambda Runtime API on 127.0.0.1 (a free port): the
``invocation/next`` long poll hands out queued events with the ``Lambda-Runtime-*``
headers, ``invocation/{id}/response`` and ``/error`` and ``init/error`` are recorded.
:func:`run_function` starts ``python -B -S -E`` in the task folder with ``sys.path`` set
to the task folder, the runtime client folder and the standard library only (nothing
from any site-packages, no ``PYTHON*`` variables), and runs ``python -m awslambdaric
HANDLER`` there: the same entry point as the ``CMD`` of AWS's base images. Every wait is
bounded; on exit the runtime process (it loops forever) is killed and the server closed.
"""

from __future__ import annotations

import functools
import json
import os
import queue
import subprocess
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Final, Literal

from tests.tooling import REPO_ROOT, ToolError

API_PREFIX: Final = "/2018-06-01/runtime"
ACCOUNT: Final = "123456789012"
REGION: Final = "us-east-1"

# Runs inside the runtime process. argv: task folder, runtime client folder, report
# file, handler. The report says where the interesting modules would be imported from
# (find_spec locates without importing), so a test can prove nothing came from elsewhere.
BOOTSTRAP: Final = """\
import json, os, runpy, sys
from importlib.util import find_spec

task_dir, ric_dir, report, handler = sys.argv[1:5]
# -S: no site, so sys.path is '' (for -c) plus the standard library; replace ''.
sys.path[:] = [task_dir, ric_dir, *(entry for entry in sys.path if entry)]
os.chdir(task_dir)
names = ("handler", "fastapi", "starlette", "pydantic", "pydantic_core", "mangum",
         "example_app", "fastsplit_runtime", "awslambdaric", "runtime_client")
with open(report, "w") as out:
    json.dump({
        "path": sys.path,
        "base_prefix": sys.base_prefix,
        "no_site": sys.flags.no_site,
        "ignore_environment": sys.flags.ignore_environment,
        "version": "%d.%d" % sys.version_info[:2],
        "origins": {name: getattr(find_spec(name), "origin", None) for name in names},
    }, out)
sys.argv = ["awslambdaric", handler]
runpy.run_module("awslambdaric", run_name="__main__", alter_sys=True)
"""


def lambdaric_dir() -> Path:
    """``.tools/lambdaric`` (``$FASTSPLIT_TOOLS_DIR`` overrides ``.tools``)."""
    tools = Path(os.environ.get("FASTSPLIT_TOOLS_DIR") or REPO_ROOT / ".tools")
    if not (tools / "lambdaric.stamp").is_file():
        raise ToolError(
            f"awslambdaric is not installed in {tools / 'lambdaric'} (no lambdaric.stamp). "
            f"Run `make lambdaric` in {REPO_ROOT} first."
        )
    return tools / "lambdaric"


def lambdaric_python() -> Path:
    """The interpreter that installed the runtime client (the one its extension fits)."""
    stamp = lambdaric_dir().parent / "lambdaric.stamp"
    python = Path(stamp.read_text(encoding="utf-8").strip())
    if not python.is_file():
        raise ToolError(f"{python} (from {stamp}) is gone: run `make lambdaric` again.")
    return python


@functools.cache
def python_version(python: Path) -> str:
    """``"3.11"`` for a given interpreter."""
    result = subprocess.run(
        [str(python), "-S", "-E", "-c", "import sys; print('%d.%d' % sys.version_info[:2])"],
        capture_output=True,
        text=True,
        check=True,
        timeout=30,
    )
    return result.stdout.strip()


@dataclass(frozen=True)
class Outcome:
    """What the runtime posted back: an invocation's response or error, or an init error."""

    kind: Literal["response", "error", "init_error"]
    request_id: str | None
    payload: Any
    """The posted body, parsed as JSON (the handler's return value or the error object)."""
    error_type: str | None = None
    """The ``Lambda-Runtime-Function-Error-Type`` header, for errors."""


@dataclass(frozen=True)
class _Invocation:
    request_id: str
    body: bytes
    deadline_ms: int
    function_arn: str
    trace_id: str


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        """Quiet: a long poll answered after the runtime was killed finds the peer gone."""


class RuntimeAPI:
    """The Lambda Runtime API, enough for awslambdaric: next, response, error, init error."""

    def __init__(self, function_name: str = "fastsplit-test") -> None:
        self.function_name = function_name
        self._pending: queue.Queue[_Invocation] = queue.Queue()
        self.outcomes: queue.Queue[Outcome] = queue.Queue()
        self._issued: set[str] = set()
        self._closed = threading.Event()
        self._server = _Server(("127.0.0.1", 0), self._handler_class())
        self.address = f"127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()

    def submit(self, event: Any, *, timeout_s: float = 30.0) -> str:
        """Queue one event for the runtime's next ``invocation/next``; returns its id."""
        request_id = str(uuid.uuid4())
        self._issued.add(request_id)
        self._pending.put(
            _Invocation(
                request_id=request_id,
                body=json.dumps(event).encode(),
                deadline_ms=int((time.time() + timeout_s) * 1000),
                function_arn=(f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:{self.function_name}"),
                trace_id=(
                    f"Root=1-{int(time.time()):08x}-{uuid.uuid4().hex[:24]};"
                    f"Parent={uuid.uuid4().hex[:16]};Sampled=0"
                ),
            )
        )
        return request_id

    def close(self) -> None:
        """Idempotent: wakes any waiting long poll, stops serving, frees the port."""
        self._closed.set()
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        api = self

        class Handler(BaseHTTPRequestHandler):
            # HTTP/1.1: keep-alive, and `Expect: 100-continue` (curl sends it for large
            # bodies) is answered by the base class.
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:
                pass  # the runtime's own log is what a failing test shows

            def do_GET(self) -> None:
                if self.path != f"{API_PREFIX}/invocation/next":
                    self._reply(HTTPStatus.NOT_FOUND, {"errorType": "NotFound"})
                    return
                invocation = api._next_invocation()
                if invocation is None:  # closing
                    self._reply(HTTPStatus.GONE, {"errorType": "ShuttingDown"})
                    return
                self._reply(
                    HTTPStatus.OK,
                    invocation.body,
                    headers={
                        "Lambda-Runtime-Aws-Request-Id": invocation.request_id,
                        "Lambda-Runtime-Deadline-Ms": str(invocation.deadline_ms),
                        "Lambda-Runtime-Invoked-Function-Arn": invocation.function_arn,
                        "Lambda-Runtime-Trace-Id": invocation.trace_id,
                    },
                )

            def do_POST(self) -> None:
                body = self._read_body()
                error_type = self.headers.get("Lambda-Runtime-Function-Error-Type")
                parts = self.path.removeprefix(API_PREFIX).strip("/").split("/")
                outcome: Outcome | None = None
                if parts == ["init", "error"]:
                    outcome = Outcome("init_error", None, _json(body), error_type)
                elif (
                    len(parts) == 3
                    and parts[0] == "invocation"
                    and parts[2]
                    in (
                        "response",
                        "error",
                    )
                ):
                    if parts[1] not in api._issued:
                        self._reply(HTTPStatus.BAD_REQUEST, {"errorType": "InvalidRequestID"})
                        return
                    kind: Literal["response", "error"] = (
                        "response" if parts[2] == "response" else "error"
                    )
                    outcome = Outcome(kind, parts[1], _json(body), error_type)
                if outcome is None:
                    self._reply(HTTPStatus.NOT_FOUND, {"errorType": "NotFound"})
                    return
                api.outcomes.put(outcome)
                self._reply(HTTPStatus.ACCEPTED, {"status": "OK"})

            def _read_body(self) -> bytes:
                if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
                    chunks = []
                    while size := int(self.rfile.readline().split(b";")[0].strip() or b"0", 16):
                        chunks.append(self.rfile.read(size))
                        self.rfile.readline()
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass  # trailers
                    return b"".join(chunks)
                return self.rfile.read(int(self.headers.get("Content-Length") or 0))

            def _reply(
                self,
                status: HTTPStatus,
                body: bytes | dict[str, Any],
                headers: Mapping[str, str] | None = None,
            ) -> None:
                data = body if isinstance(body, bytes) else json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                for name, value in (headers or {}).items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(data)

        return Handler

    def _next_invocation(self) -> _Invocation | None:
        """The long poll: block (in short slices) until an event is queued or closing."""
        while not self._closed.is_set():
            with suppress(queue.Empty):
                return self._pending.get(timeout=0.05)
        return None


def _json(body: bytes) -> Any:
    try:
        return json.loads(body)
    except ValueError:
        return body.decode(errors="replace")


class RuntimeProcess:
    """One runtime process serving events from its :class:`RuntimeAPI` (a warm function)."""

    def __init__(
        self, api: RuntimeAPI, process: subprocess.Popen[bytes], log: Path, report: Path
    ) -> None:
        self.api = api
        self.process = process
        self.log_path = log
        self.report_path = report

    def invoke(self, event: Any, *, timeout: float = 30.0) -> Outcome:
        """Send one event; the runtime's response or error (or its init error)."""
        request_id = self.api.submit(event, timeout_s=timeout)
        return self._wait(lambda o: o.request_id == request_id or o.kind == "init_error", timeout)

    def wait_init_error(self, *, timeout: float = 30.0) -> Outcome:
        return self._wait(lambda o: o.kind == "init_error", timeout)

    def wait_exit(self, *, timeout: float = 30.0) -> int:
        try:
            return self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            raise ToolError(f"the runtime did not exit within {timeout} s\n{self.log()}") from None

    def report(self, *, timeout: float = 30.0) -> dict[str, Any]:
        """What the bootstrap saw before starting the runtime (sys.path, module origins)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with suppress(OSError, ValueError):
                data: dict[str, Any] = json.loads(self.report_path.read_text(encoding="utf-8"))
                return data
            self._check_running()
            time.sleep(0.02)
        raise ToolError(f"no bootstrap report within {timeout} s\n{self.log()}")

    def mapped_files(self) -> list[str]:
        """Files the live runtime process has mapped (its loaded shared libraries)."""
        maps = Path(f"/proc/{self.process.pid}/maps").read_text(encoding="utf-8")
        return sorted({line.split(None, 5)[5] for line in maps.splitlines() if "/" in line})

    def log(self) -> str:
        text = self.log_path.read_text(encoding="utf-8", errors="replace")
        return f"--- runtime output (exit {self.process.poll()}) ---\n{text}"

    def _wait(self, accept: Callable[[Outcome], bool], timeout: float) -> Outcome:
        deadline = time.monotonic() + timeout
        skipped: list[Outcome] = []
        try:
            while True:
                try:
                    outcome = self.api.outcomes.get(timeout=0.05)
                except queue.Empty:
                    # After exiting, the runtime may still have posted: check once more.
                    if self.process.poll() is not None and self.api.outcomes.empty():
                        raise ToolError(
                            f"the runtime exited with code {self.process.returncode} "
                            f"before answering\n{self.log()}"
                        ) from None
                    if time.monotonic() > deadline:
                        raise ToolError(f"no answer within {timeout} s\n{self.log()}") from None
                    continue
                if accept(outcome):
                    return outcome
                skipped.append(outcome)
        finally:
            for outcome in skipped:
                self.api.outcomes.put(outcome)

    def _check_running(self) -> None:
        if self.process.poll() is not None:
            raise ToolError(f"the runtime exited with code {self.process.returncode}\n{self.log()}")


def runtime_env(task_dir: Path, api: RuntimeAPI, extra: Mapping[str, str]) -> dict[str, str]:
    """The variables Lambda sets for a Python function, and nothing from this process."""
    version = python_version(lambdaric_python())
    return {
        "PATH": "/usr/local/bin:/usr/bin:/bin",
        "LANG": "en_US.UTF-8",
        "TZ": ":UTC",
        "AWS_LAMBDA_RUNTIME_API": api.address,
        "LAMBDA_TASK_ROOT": str(task_dir),
        "LAMBDA_RUNTIME_DIR": str(lambdaric_dir()),
        "_HANDLER": "handler.handler",
        "AWS_EXECUTION_ENV": f"AWS_Lambda_python{version}",
        "AWS_LAMBDA_FUNCTION_NAME": api.function_name,
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "512",
        "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
        "AWS_LAMBDA_INITIALIZATION_TYPE": "on-demand",
        "AWS_LAMBDA_LOG_GROUP_NAME": f"/aws/lambda/{api.function_name}",
        "AWS_LAMBDA_LOG_STREAM_NAME": "2026/01/01/[$LATEST]0123456789abcdef",
        "AWS_REGION": REGION,
        "AWS_DEFAULT_REGION": REGION,
        **extra,
    }


@contextmanager
def run_function(
    task_dir: Path,
    *,
    handler: str = "handler.handler",
    env: Mapping[str, str] | None = None,
    function_name: str = "fastsplit-test",
) -> Iterator[RuntimeProcess]:
    """Start the real runtime client on ``task_dir`` (an unzipped artifact).

    Yields once the process is started (not necessarily initialised: the first
    :meth:`RuntimeProcess.invoke` waits for that). On exit the process is killed and
    waited for, and the server closed, whatever happened.
    """
    python = lambdaric_python()
    ric = lambdaric_dir()
    task_dir = task_dir.resolve()
    api = RuntimeAPI(function_name)
    with tempfile.TemporaryDirectory(prefix="fastsplit-lambdaric-") as tmp:
        log = Path(tmp) / "runtime.log"
        report = Path(tmp) / "report.json"
        arguments = [str(task_dir), str(ric), str(report), handler]
        process: subprocess.Popen[bytes] | None = None
        try:
            with log.open("wb") as out:
                process = subprocess.Popen(
                    [str(python), "-B", "-S", "-E", "-c", BOOTSTRAP, *arguments],
                    cwd=task_dir,
                    env=runtime_env(task_dir, api, env or {}),
                    stdin=subprocess.DEVNULL,
                    stdout=out,
                    stderr=subprocess.STDOUT,
                    start_new_session=True,
                )
            yield RuntimeProcess(api, process, log, report)
        finally:
            if process is not None:
                if process.poll() is None:
                    process.kill()
                with suppress(subprocess.TimeoutExpired):  # SIGKILL is final: never waits long
                    process.wait(timeout=10)
            api.close()
