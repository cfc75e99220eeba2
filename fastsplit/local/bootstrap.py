"""The inside of a local function process: what the Lambda Python runtime does, in short.

Run as ``python -S -P -B bootstrap.py SPEC_JSON`` by :mod:`fastsplit.local.worker`; it
uses the standard library only and never imports fastsplit, because the function's own
folder (or unzipped artifact) must be all the code it can see. ``SPEC_JSON`` holds the
code root, the extra ``sys.path`` entries (site-packages for a build, none for an
artifact) and the handler (``handler.handler``).

Protocol, one JSON object per line: after importing the handler (the init phase) the
process writes ``{"ready": {...}}`` or ``{"init_error": {...}}`` (then exits); then for
every ``{"event": ..., "context": {...}}`` read from stdin it writes ``{"response": ...}``
or ``{"error": {...}}`` with Lambda's error shape (``errorType``, ``errorMessage``,
``stackTrace``). The protocol has a private copy of stdout: file descriptor 1 is pointed
at stderr, so whatever the handler prints, even from C code, cannot corrupt it.
"""

from __future__ import annotations

import importlib
import json
import os
import sys
import time
import traceback
from typing import IO, Any


class Context:
    """The Lambda context object, from the attributes the worker sends per invocation."""

    def __init__(self, data: dict[str, Any]) -> None:
        self.function_name: str = data["function_name"]
        self.function_version: str = data["function_version"]
        self.invoked_function_arn: str = data["invoked_function_arn"]
        self.memory_limit_in_mb: int = data["memory_limit_in_mb"]
        self.aws_request_id: str = data["aws_request_id"]
        self.log_group_name: str = data["log_group_name"]
        self.log_stream_name: str = data["log_stream_name"]
        self._deadline_ms: int = data["deadline_ms"]

    def get_remaining_time_in_millis(self) -> int:
        return max(0, self._deadline_ms - int(time.time() * 1000))


def error_info(exc: BaseException, error_type: str | None = None) -> dict[str, Any]:
    # The user's frames only: not this file's, nor the import machinery's.
    frames = [
        frame
        for frame in traceback.extract_tb(exc.__traceback__)
        if frame.filename != __file__ and not frame.filename.startswith("<frozen importlib")
    ]
    stack = traceback.format_list(frames)
    return {
        "errorType": error_type or type(exc).__name__,
        "errorMessage": str(exc),
        "stackTrace": [line.rstrip("\n") for line in stack],
    }


def load_handler(spec: str) -> tuple[Any, dict[str, Any] | None]:
    """Import ``module.function`` as Lambda does; errors get Lambda's error types."""
    module_name, _, function_name = spec.rpartition(".")
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        info = error_info(exc, "Runtime.ImportModuleError")
        info["errorMessage"] = f"Unable to import module '{module_name}': {exc}"
        return None, info
    except SyntaxError as exc:
        return None, error_info(exc, "Runtime.UserCodeSyntaxError")
    except Exception as exc:
        return None, error_info(exc)
    handler = getattr(module, function_name, None)
    if not callable(handler):
        message = f"Handler '{function_name}' missing on module '{module_name}'"
        return None, {"errorType": "Runtime.HandlerNotFound", "errorMessage": message}
    return handler, None


def send(channel: IO[str], message: dict[str, Any]) -> None:
    try:
        line = json.dumps(message)
    except (TypeError, ValueError) as exc:
        line = json.dumps({"error": error_info(exc, "Runtime.MarshalError")})
    channel.write(line + "\n")
    channel.flush()


def main() -> None:
    spec = json.loads(sys.argv[1])
    channel = os.fdopen(os.dup(1), "w", encoding="utf-8")
    os.dup2(2, 1)
    sys.stdout.reconfigure(line_buffering=True)  # type: ignore[union-attr]
    root = spec["root"]
    # The code root first, as /var/task is in Lambda, then the interpreter's standard
    # library (all that -S leaves), then only the extra entries given.
    sys.path[:] = [root, *sys.path, *spec["path"]]
    os.chdir(root)
    started = time.monotonic()
    handler, failure = load_handler(spec["handler"])
    if failure is not None:
        send(channel, {"init_error": failure})
        sys.exit(1)
    send(channel, {"ready": {"init_ms": (time.monotonic() - started) * 1000}})
    for line in sys.stdin:
        request = json.loads(line)
        try:
            response = handler(request["event"], Context(request["context"]))
        except Exception as exc:
            send(channel, {"error": error_info(exc)})
            continue
        send(channel, {"response": response})


if __name__ == "__main__":
    main()
