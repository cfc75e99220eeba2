"""End-to-end helpers: request cases, the monolith's answers and the split's answers
in one comparable shape."""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from fastsplit.gateway import GatewayRoute, routes_from_manifest, select

RUNNER = Path(__file__).with_name("lambda_runner.py")


@dataclass(frozen=True)
class Case:
    """One HTTP request, sent the same way to the monolith and to the split."""

    method: str
    path: str
    query: tuple[tuple[str, str], ...] = ()
    headers: tuple[tuple[str, str], ...] = ()
    body: bytes = b""

    @property
    def label(self) -> str:
        query = "&".join(f"{k}={v}" for k, v in self.query)
        return f"{self.method} {self.path}{'?' + query if query else ''}"

    def json(self, data: Any) -> Case:
        body = json.dumps(data).encode()
        return Case(
            self.method,
            self.path,
            self.query,
            (*self.headers, ("content-type", "application/json")),
            body,
        )


@dataclass
class Answer:
    """A response reduced to what must match: status, headers, cookies, body."""

    status: int
    headers: dict[str, list[str]]
    cookies: list[str]
    body: bytes

    def for_format(self, kind: str, method: str) -> dict[str, Any]:
        headers = {name: _normalise(name, values) for name, values in self.headers.items()}
        if kind == "http":
            # Payload 2.0 responses carry one value per header: repeated headers are
            # comma-joined (cookies travel separately).
            headers = {name: [", ".join(values)] for name, values in headers.items()}
        body: Any = b"" if method == "HEAD" else self.body
        if body and "json" in "".join(self.headers.get("content-type", [])):
            # Compare JSON as data: FastAPI orders some keys by set iteration (the
            # methods of a multi-method route), which changes with the hash seed.
            body = json.loads(body)
        return {"status": self.status, "headers": headers, "cookies": self.cookies, "body": body}


def _normalise(name: str, values: list[str]) -> list[str]:
    if name == "allow":
        # Starlette joins a set of methods: the order depends on the hash seed.
        return [", ".join(sorted(m.strip() for v in values for m in v.split(",")))]
    return values


def monolith_answer(client: Any, case: Case) -> Answer:
    response = client.request(
        case.method,
        case.path,
        params=list(case.query),
        headers=list(case.headers),
        content=case.body or None,
        follow_redirects=False,
    )
    return http_answer(response)


def http_answer(response: Any) -> Answer:
    """Read an HTTP response (httpx / TestClient)."""
    headers: dict[str, list[str]] = {}
    cookies: list[str] = []
    for name, value in response.headers.multi_items():
        if name.lower() == "set-cookie":
            cookies.append(value)
        else:
            headers.setdefault(name.lower(), []).append(value)
    return Answer(response.status_code, headers, cookies, response.content)


def lambda_answer(response: dict[str, Any]) -> Answer:
    """Read a Lambda proxy response (payload 2.0, REST 1.0 or ALB)."""
    headers: dict[str, list[str]] = {}
    cookies: list[str] = list(response.get("cookies") or [])
    # API Gateway (1.0) and ALB merge both maps; a name in both takes the multi values.
    raw = {name: [value] for name, value in (response.get("headers") or {}).items()}
    raw.update(response.get("multiValueHeaders") or {})
    for name, values in raw.items():
        if name.lower() == "set-cookie":
            cookies.extend(values)
        else:
            headers.setdefault(name.lower(), []).extend(values)
    body = response.get("body") or ""
    data = base64.b64decode(body) if response.get("isBase64Encoded") else body.encode()
    return Answer(int(response["statusCode"]), headers, cookies, data)


@dataclass
class SplitApp:
    """The functions of a build, each in its own long-lived process (a warm Lambda)."""

    build: Path
    env: dict[str, str]
    processes: dict[str, subprocess.Popen[str]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        manifest = json.loads((self.build / "manifest.json").read_text())
        self.routes: list[GatewayRoute] = routes_from_manifest(manifest)

    def route_for(self, method: str, path: str) -> GatewayRoute:
        """The gateway route (and so the function) the HTTP API picks for a request."""
        route = select(self.routes, method, path)
        assert route is not None, f"no gateway route for {method} {path}"
        return route

    def invoke(self, function: str, event: dict[str, Any]) -> dict[str, Any]:
        process = self.processes.get(function)
        if process is None:
            process = subprocess.Popen(
                [sys.executable, str(RUNNER), str(self.build / "functions" / function)],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                text=True,
                env={**os.environ, **self.env},
            )
            self.processes[function] = process
        assert process.stdin is not None and process.stdout is not None
        process.stdin.write(json.dumps(event) + "\n")
        process.stdin.flush()
        line = process.stdout.readline()
        assert line, f"function {function} exited (code {process.poll()})"
        message = json.loads(line)
        assert "error" not in message, message["error"]
        result: dict[str, Any] = message["response"]
        return result

    def close(self) -> None:
        for process in self.processes.values():
            if process.stdin:
                process.stdin.close()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
            if process.stdout:
                process.stdout.close()
        self.processes.clear()
