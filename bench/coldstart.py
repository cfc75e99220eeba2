"""Cold starts and warm invocations of packaged Lambda functions, each in a fresh process.

A function's zip is unzipped into a folder; :func:`cold_start` runs a new interpreter
(``python -S -I -B``: the standard library only, no site-packages, no ``PYTHON*``
variables, no bytecode written) with that folder alone in front of the standard library
on ``sys.path`` (``bench/runtime_child.py`` does the rest), imports ``handler`` and calls
``handler.handler(event, context)`` with an API Gateway HTTP API (payload 2.0) event.
The interpreter is this machine's (the artifacts are packaged for its Python version,
so native wheels load).

Two clocks: *import + first invocation*, measured inside the child around the import and
the call, and *process start to response*, the child's monotonic clock at the response
minus the parent's just before spawning it (interpreter start-up included, exit not).
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
import zipfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlencode

from bench.harness import BenchError

HERE = Path(__file__).resolve().parent
CHILD = HERE / "runtime_child.py"
# `sam local generate-event apigateway http-api-proxy` (SAM CLI 1.170.0), verbatim.
SAMPLE_EVENT = HERE / "events" / "http-api-proxy.json"
CHILD_TIMEOUT = 300


def interpreter() -> Path:
    """The interpreter under this one's venv: nothing installed next to the stdlib."""
    return Path(getattr(sys, "_base_executable", sys.executable))


def http_event(
    method: str,
    path: str,
    *,
    route: str | None = None,
    query: Sequence[tuple[str, str]] = (),
) -> dict[str, Any]:
    """SAM's sample HTTP API event, rewritten for one request (as tests/tooling.py does).

    ``route`` is the gateway's route template (``/hello/{name}``): it fills ``routeKey``
    and ``pathParameters``, as the per-route HTTP API of a split app sends them.
    """
    event: dict[str, Any] = json.loads(SAMPLE_EVENT.read_text(encoding="utf-8"))
    context = event["requestContext"]
    for key in ("authentication", "authorizer"):  # the sample's mTLS and JWT APIs
        context.pop(key, None)
    for key in ("cookies", "body", "pathParameters", "queryStringParameters", "stageVariables"):
        event.pop(key, None)
    route_key = f"{method} {route}" if route else "$default"
    agent = "fastsplit-bench/1.0"
    event.update(
        routeKey=route_key,
        rawPath=path,
        rawQueryString=urlencode(query, quote_via=quote),
        headers={
            "accept": "application/json",
            "host": context["domainName"],
            "user-agent": agent,
            "x-forwarded-for": "203.0.113.7",
            "x-forwarded-port": "443",
            "x-forwarded-proto": "https",
        },
        isBase64Encoded=False,
    )
    context.update(routeKey=route_key, stage="$default")
    context["http"] = {
        "method": method,
        "path": path,
        "protocol": "HTTP/1.1",
        "sourceIp": "203.0.113.7",
        "userAgent": agent,
    }
    grouped: dict[str, list[str]] = {}
    for name, value in query:
        grouped.setdefault(name, []).append(value)
    if grouped:
        event["queryStringParameters"] = {k: ",".join(v) for k, v in grouped.items()}
    parameters = _path_parameters(route, path) if route else {}
    if parameters:
        event["pathParameters"] = parameters
    return event


def _path_parameters(route: str, path: str) -> dict[str, str]:
    pattern, actual = route.strip("/").split("/"), path.strip("/").split("/")
    if len(pattern) != len(actual):
        raise ValueError(f"{path} does not match {route}")
    return {p[1:-1]: a for p, a in zip(pattern, actual, strict=True) if p.startswith("{")}


def write_event(folder: Path, name: str, event: Mapping[str, Any]) -> Path:
    path = folder / f"event-{name}.json"
    path.write_text(json.dumps(event, indent=2), encoding="utf-8")
    return path


def unzip(artifact: Path, folder: Path) -> float:
    """Unzip a function's zip into ``folder`` (which must not exist), as Lambda unpacks
    it into /var/task before a cold start; returns the seconds it took."""
    folder.mkdir(parents=True)
    started = time.monotonic()
    with zipfile.ZipFile(artifact) as archive:
        archive.extractall(folder)
    return time.monotonic() - started


def child_env(home: Path, extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """A Lambda-like environment, built from nothing (no variable of this process)."""
    home.mkdir(parents=True, exist_ok=True)
    return {
        "PATH": "/usr/local/bin:/usr/bin:/bin",
        "LANG": "C.UTF-8",
        "HOME": str(home),
        "TMPDIR": str(home),
        "AWS_REGION": "us-east-1",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_LAMBDA_FUNCTION_NAME": "fastsplit-bench",
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "512",
        **(extra or {}),
    }


def compile_folder(folder: Path) -> None:
    """Compile every module under ``folder`` for this interpreter, as shipped bytecode
    would be: ``unchecked-hash`` files are used without looking at source dates."""
    command = [str(interpreter()), "-m", "compileall", "-q", "-j", "0"]
    command += ["--invalidation-mode", "unchecked-hash", str(folder)]
    result = subprocess.run(command, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise BenchError(f"compileall {folder} failed:\n{result.stdout[-2000:]}")


@dataclass(frozen=True)
class ColdRun:
    """One cold start: seconds, and what the handler answered."""

    import_s: float
    first_s: float
    to_response_s: float
    """Process start (spawn) to the response: interpreter start-up included."""
    wall_s: float
    """Spawn to exit: also the interpreter's shutdown (and the app's, at exit)."""
    modules: int
    tops: tuple[str, ...]
    """Top-level packages the import and first call loaded."""
    status: int
    body: str

    @property
    def import_first_s(self) -> float:
        return self.import_s + self.first_s


def cold_start(folder: Path, event_file: Path, *, env: Mapping[str, str]) -> ColdRun:
    """Import ``handler`` from ``folder`` in a new process and answer ``event_file``."""
    folder, event_file = folder.resolve(), event_file.resolve()
    command = [str(interpreter()), "-S", "-I", "-B", str(CHILD), "cold", str(folder)]
    started = time.monotonic()
    result = _run([*command, str(event_file)], folder, env)
    wall = time.monotonic() - started
    data = json.loads(result.stdout)
    response = data["response"]
    return ColdRun(
        import_s=data["import"],
        first_s=data["first"],
        to_response_s=data["done"] - started,
        wall_s=wall,
        modules=data["modules"],
        tops=tuple(data["tops"]),
        status=int(response["statusCode"]),
        body=response.get("body") or "",
    )


@dataclass(frozen=True)
class LoopResult:
    wall: dict[str, list[float]]
    """Per variant: wall microseconds per request, one figure per batch."""
    cpu: dict[str, list[float]]
    """The same in CPU time of the process (stretches less than wall under load)."""
    failing: dict[str, str]
    """Variants that could not serve the event the handler's way, and why."""
    again_of: str = ""
    """The variant that ``again`` is a second instance of (the A/A comparison)."""


def warm_loop(
    folder: Path,
    event_file: Path,
    *,
    env: Mapping[str, str],
    variants: Sequence[str],
    iterations: int,
    batches: int,
) -> LoopResult:
    """Warm per-request time of ``variants`` (see bench/runtime_child.py), one process."""
    folder, event_file = folder.resolve(), event_file.resolve()
    command = [str(interpreter()), "-S", "-I", "-B", str(CHILD), "loop", str(folder)]
    command += [str(event_file), str(iterations), str(batches), ",".join(variants)]
    data = json.loads(_run(command, folder, env).stdout)
    return LoopResult(data["wall"], data["cpu"], data["failing"], data.get("again_of", ""))


def _run(
    command: list[str], folder: Path, env: Mapping[str, str]
) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(
        command, cwd=folder, env=dict(env), capture_output=True, text=True,
        stdin=subprocess.DEVNULL, timeout=CHILD_TIMEOUT, check=False,
    )  # fmt: skip
    if result.returncode != 0:
        raise BenchError(
            f"{' '.join(command)} exited {result.returncode}:\n{result.stderr[-3000:]}"
        )
    return result
