"""One function in its own process: a local Lambda execution environment.

A :class:`Worker` is a ``python -S -P -B`` process running :mod:`fastsplit.local.bootstrap`
with only the function's code root (plus, for a build, site-packages) on ``sys.path``. It
handles one event at a time, over JSON lines on its stdin and a private copy of its
stdout; what the function prints or logs arrives line by line through ``on_output``.
"""

from __future__ import annotations

import contextlib
import json
import queue
import subprocess
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, Literal

from fastsplit.local.deployment import LocalFunction
from fastsplit.local.events import PAYLOAD_LIMIT

BOOTSTRAP = Path(__file__).with_name("bootstrap.py")
ErrorKind = Literal["init", "handler", "crash", "timeout", "payload"]
OutputCallback = Callable[[str, str], None]
"""Called with (function name, line) for every line the function writes."""


@dataclass(frozen=True)
class FunctionError:
    """Why an invocation gave no response: Lambda's error shape plus what happened."""

    kind: ErrorKind
    error_type: str
    message: str
    stack: tuple[str, ...] = ()

    @classmethod
    def from_lambda(cls, kind: ErrorKind, info: dict[str, Any]) -> FunctionError:
        stack = info.get("stackTrace") or []
        return cls(
            kind,
            str(info.get("errorType", "Error")),
            str(info.get("errorMessage", "")),
            tuple(str(line) for line in stack),
        )

    def as_lambda_error(self) -> dict[str, Any]:
        return {
            "errorType": self.error_type,
            "errorMessage": self.message,
            "stackTrace": list(self.stack),
        }

    def __str__(self) -> str:
        return f"{self.error_type}: {self.message}" if self.message else self.error_type


@dataclass(frozen=True)
class Invocation:
    """The outcome of one event: a response, or an error saying why there is none."""

    function: str
    response: Any
    error: FunctionError | None
    cold: bool
    init_ms: float
    duration_ms: float
    pid: int | None


class WorkerFailure(Exception):
    def __init__(self, error: FunctionError) -> None:
        super().__init__(str(error))
        self.error = error


class Worker:
    """One process running one function."""

    def __init__(
        self,
        function: LocalFunction,
        *,
        python: str,
        root: Path,
        search_path: Iterable[str],
        env: dict[str, str],
        on_output: OutputCallback | None = None,
    ) -> None:
        self.function = function
        spec = {"root": str(root), "path": list(search_path), "handler": function.handler}
        self._command = [python, "-S", "-P", "-B", str(BOOTSTRAP), json.dumps(spec)]
        self._root = root
        self._env = env
        self._on_output = on_output
        self._lines: queue.Queue[bytes | None] = queue.Queue()
        self._tail: deque[str] = deque(maxlen=40)
        self._threads: list[threading.Thread] = []
        self.process: subprocess.Popen[bytes] | None = None
        self.init_ms = 0.0

    @property
    def pid(self) -> int | None:
        return self.process.pid if self.process is not None else None

    @property
    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def start(self, timeout: float) -> None:
        """Start the process and run the init phase (import the handler)."""
        started = time.monotonic()
        self.process = subprocess.Popen(
            self._command,
            cwd=self._root,
            env=self._env,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            # Its own session: a Ctrl-C in the terminal reaches the server, which then
            # stops the workers in order, instead of every process at once.
            start_new_session=True,
        )
        assert self.process.stdout is not None and self.process.stderr is not None
        self._read(self.process.stdout, self._protocol_line)
        self._read(self.process.stderr, self._output_line)
        message = self._receive(timeout, phase="init")
        if "init_error" in message:
            self.stop()
            raise WorkerFailure(FunctionError.from_lambda("init", message["init_error"]))
        self.init_ms = (time.monotonic() - started) * 1000

    def invoke(self, event: Any, context: dict[str, Any], timeout: float) -> Any:
        """The handler's response; raises :class:`WorkerFailure` when there is none."""
        assert self.process is not None and self.process.stdin is not None
        line = json.dumps({"event": event, "context": context}).encode() + b"\n"
        if len(line) > PAYLOAD_LIMIT:
            raise WorkerFailure(
                FunctionError(
                    "payload",
                    "RequestEntityTooLarge",
                    f"the event is {len(line)} bytes, over Lambda's {PAYLOAD_LIMIT} byte limit",
                )
            )
        try:
            self.process.stdin.write(line)
            self.process.stdin.flush()
        except OSError:
            raise WorkerFailure(self._crashed()) from None
        message = self._receive(timeout, phase="invoke")
        if "error" in message:
            raise WorkerFailure(FunctionError.from_lambda("handler", message["error"]))
        return message["response"]

    def stop(self, grace: float = 5.0) -> None:
        """End the process: stdin closed (the lifespan shuts down), then SIGKILL."""
        process = self.process
        if process is None:
            return
        if process.stdin is not None:
            with contextlib.suppress(OSError):
                process.stdin.close()
        try:
            process.wait(grace)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        for thread in self._threads:
            thread.join(timeout=5)
        for stream in (process.stdout, process.stderr):
            if stream is not None:
                stream.close()

    def output_tail(self) -> tuple[str, ...]:
        return tuple(self._tail)

    def _read(self, stream: IO[bytes], handle: Callable[[bytes], None]) -> None:
        def pump() -> None:
            for line in iter(stream.readline, b""):
                handle(line)
            handle(b"")

        thread = threading.Thread(target=pump, daemon=True, name=f"worker-{self.function.name}")
        self._threads.append(thread)
        thread.start()

    def _protocol_line(self, line: bytes) -> None:
        self._lines.put(line or None)

    def _output_line(self, line: bytes) -> None:
        if not line:
            return
        text = line.decode("utf-8", errors="replace").rstrip("\r\n")
        self._tail.append(text)
        if self._on_output is not None:
            self._on_output(self.function.name, text)

    def _receive(self, timeout: float, *, phase: str) -> dict[str, Any]:
        try:
            line = self._lines.get(timeout=timeout)
        except queue.Empty:
            self._kill()
            raise WorkerFailure(
                FunctionError(
                    "timeout",
                    "Sandbox.Timedout",
                    f"Task timed out after {timeout:.2f} seconds ({phase})",
                )
            ) from None
        if line is None:
            raise WorkerFailure(self._crashed())
        if len(line) > PAYLOAD_LIMIT:
            raise WorkerFailure(
                FunctionError(
                    "payload",
                    "Function.ResponseSizeTooLarge",
                    f"the response is {len(line)} bytes, over Lambda's {PAYLOAD_LIMIT} byte limit",
                )
            )
        try:
            message: dict[str, Any] = json.loads(line)
        except ValueError:
            self._kill()
            raise WorkerFailure(
                FunctionError("crash", "Runtime.ProtocolError", f"unreadable answer {line!r:.200}")
            ) from None
        return message

    def _crashed(self) -> FunctionError:
        assert self.process is not None
        try:
            code = self.process.wait(5)
        except subprocess.TimeoutExpired:
            self._kill()
            code = self.process.wait()
        for thread in self._threads:
            thread.join(timeout=2)  # the rest of stderr: what it said before dying
        tail = self.output_tail()
        last = next((line for line in reversed(tail) if line.strip()), "")
        detail = f"; last output: {last.strip()}" if last else ""
        return FunctionError(
            "crash", "Runtime.ExitError", f"the process exited with code {code}{detail}", tail
        )

    def _kill(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait()
