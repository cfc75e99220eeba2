"""Drive the real Vercel CLI and Vercel's Python runtime from tests, offline.

``make vercel-tools`` (tools/vercel.mk) installs into ``.tools/vercel/``: the CLI
(vercel@58.10.0, with @vercel/routing-utils and @vercel/build-utils for the schema
check), uv, a ``python3.12`` link and a wheelhouse of every package ``vercel build``
installs for example_app. Nothing here installs anything.

What vercel@58.10.0 (@vercel/python 6.56.2, vercel-runtime 0.20.0) does, as seen here:

* ``vercel build`` needs ``.vercel/project.json`` with a ``settings`` key, ``uv`` and
  ``python3.12`` on PATH, and reaches the package index through uv: with UV_OFFLINE,
  UV_NO_INDEX and UV_FIND_LINKS pointing at the wheelhouse it needs no network (the
  wheelhouse must hold pip too: ``uv venv --seed``). It calls Vercel's API in the
  background; under ``unshare --net`` that fails at once and the build goes on.
* It builds one entry point after the other, each with a full ``uv sync`` of the shared
  venv: about 2 s per function (45 s for example_app's 20).
* vercel.json ``routes`` come first in ``.vercel/output/config.json``, unchanged but for
  ``^``/``$`` anchors, before ``{"handle": "filesystem"}``.
* A built function is called without the platform by importing ``vc__handler__python``
  (python3.12, the ``.func`` folder as working directory, ``PYTHONPATH=_vendor`` from
  its ``.vc-config.json``) and calling ``vc_handler({"body": json.dumps({"method",
  "path", "headers", "body"})}, None)``. That is vercel-runtime's request-per-invocation
  mode: it runs the app's lifespan once at import, without ``state``; it passes the raw
  (percent-encoded) path; it answers ``{"statusCode", "headers": {name: [values]},
  "body": base64, "encoding": "base64"}`` and keeps the body of a HEAD answer.
"""

from __future__ import annotations

import base64
import json
import os
import re
import shutil
import subprocess
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any, Final

from tests.e2e import Answer
from tests.tooling import ToolError, isolated_env

REPO_ROOT: Final = Path(__file__).resolve().parent.parent
CHECK_SCRIPT: Final = REPO_ROOT / "tools" / "vercel" / "check-vercel-json.cjs"


def vercel_tools() -> Path:
    """``.tools/vercel`` once ``make vercel-tools`` has filled it (``$FASTSPLIT_TOOLS_DIR``)."""
    tools = Path(os.environ.get("FASTSPLIT_TOOLS_DIR") or REPO_ROOT / ".tools")
    if not (tools / "vercel.stamp").is_file():
        raise ToolError(
            f"The Vercel tools are not installed in {tools} (no vercel.stamp). "
            f"Run `make vercel-tools` in {REPO_ROOT} first (npm and pip installs, ~1 min)."
        )
    return tools / "vercel"


def no_network() -> list[str]:
    """Command prefix for a network namespace of its own (not even loopback is up)."""
    unshare = shutil.which("unshare")
    if unshare is None:
        raise ToolError("`unshare` (util-linux) is needed to run the Vercel CLI offline.")
    return [unshare, "--net"] if os.geteuid() == 0 else [unshare, "--map-root-user", "--net"]


def vercel_command() -> tuple[str, ...]:
    return (*no_network(), str(vercel_tools() / "node_modules" / ".bin" / "vercel"))


def vercel_env(tmp_path: Path) -> dict[str, str]:
    """The environment ``vercel build`` runs in: HOME and caches in ``tmp_path``, uv and
    python3.12 first on PATH, packages only from the wheelhouse, telemetry off."""
    tools = vercel_tools()
    env = isolated_env(tmp_path)
    env.pop("VIRTUAL_ENV", None)
    env.pop("PYTHONPATH", None)
    env.update(
        PATH=f"{tools / 'bin'}{os.pathsep}{env.get('PATH', '')}",
        UV_OFFLINE="1",
        UV_NO_INDEX="1",
        UV_FIND_LINKS=str(tools / "wheels"),
        UV_PYTHON_DOWNLOADS="never",
        VERCEL_TELEMETRY_DISABLED="1",
        NO_UPDATE_NOTIFIER="1",
    )
    return env


def check_vercel_json(*files: Path, timeout: float = 120.0) -> dict[str, Any]:
    """Run tools/vercel/check-vercel-json.cjs (Vercel's schemas and route compiler)."""
    node = shutil.which("node")
    if node is None:
        raise ToolError("node is needed for the vercel.json schema check")
    env = {**os.environ, "NODE_PATH": str(vercel_tools() / "node_modules")}
    result = subprocess.run(
        [*no_network(), node, str(CHECK_SCRIPT), *map(str, files)],
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    if result.returncode != 0:
        raise ToolError(f"check-vercel-json failed:\n{result.stdout}{result.stderr}")
    data: dict[str, Any] = json.loads(result.stdout)
    return {Path(name).as_posix(): value for name, value in data.items()}


# --- Vercel's routing, as `vercel dev` implements it ---------------------------------------


def route_request(config: Mapping[str, Any], method: str, path: str) -> dict[str, Any] | None:
    """The route of the Build Output ``config`` (``config.json``) that takes a request in
    the first phase, before the filesystem: the routes vercel.json's ``routes`` become.

    Mirrors the CLI's own router (``devRouter``, src/util/dev/router.ts): routes in
    order; ``methods`` must include the method; ``src`` matches the path (or the path
    without its leading slash), case-insensitively unless ``caseSensitive``; the first
    match with a ``dest`` and no ``continue`` ends routing. None when no route in the
    first phase takes the request.
    """
    for route in config["routes"]:
        if "handle" in route:
            return None
        methods = route.get("methods")
        if methods is not None and method not in methods:
            continue
        flags = 0 if route.get("caseSensitive") else re.IGNORECASE
        # PCRE named groups ``(?<name>`` are Python's ``(?P<name>``.
        pattern = re.compile(re.sub(r"\(\?<(?=[A-Za-z_])", "(?P<", route["src"]), flags)
        if not (pattern.search(path) or pattern.search(path[1:])):
            continue
        if route.get("continue"):
            continue
        return dict(route)
    return None


# --- calling built functions the way Vercel's Python runtime does ------------------------

# Runs inside a standalone .func with python3.12: one JSON request per line on stdin,
# one JSON line on stdout with vc_handler's answer (or the traceback).
RUNNER: Final = """
import json, os, sys, traceback
real_stdout = sys.stdout
sys.stdout = sys.stderr  # the app and the runtime may print; stdout is the protocol
sys.path.insert(0, os.getcwd())
import vc__handler__python
for line in sys.stdin:
    try:
        event = {"body": line}
        message = {"response": vc__handler__python.vc_handler(event, None)}
    except BaseException:
        message = {"error": traceback.format_exc()}
    real_stdout.write(json.dumps(message) + "\\n")
    real_stdout.flush()
"""


def share_bytecode(funcs: Sequence[Path]) -> None:
    """Compile the first ``.func`` once and give every other one the same ``.pyc`` files
    for the sources they share (the packager hard-links them: same inode, so the same
    mtime and size, which is what the ``.pyc`` records). Saves each process compiling
    the same ~900 files; Vercel itself would ship them with VERCEL_PYTHON_COMPILEALL=1."""
    first = funcs[0]
    python = str(vercel_tools() / "bin" / "python3.12")
    subprocess.run(
        [python, "-m", "compileall", "-q", "-j", "0", "."],
        cwd=first,
        env={"PATH": os.environ.get("PATH", ""), "PYTHONPATH": "_vendor"},
        capture_output=True,
        check=False,  # a file that does not compile is compiled (and fails) at import
    )
    for pyc in first.rglob("__pycache__/*.pyc"):
        source = pyc.parent.parent / (pyc.name.split(".", 1)[0] + ".py")
        relative = pyc.relative_to(first)
        for other in funcs[1:]:
            twin = other / source.relative_to(first)
            if source.is_file() and twin.is_file() and os.path.samefile(source, twin):
                (other / relative).parent.mkdir(exist_ok=True)
                os.link(pyc, other / relative)


class VercelFunctions:
    """The ``.func`` folders of a Build Output tree, each in a long-lived python3.12
    process (a warm instance), started together so that their imports overlap."""

    def __init__(self, functions_dir: Path, names: Iterable[str], env: Mapping[str, str]):
        python = str(vercel_tools() / "bin" / "python3.12")
        names = list(names)
        share_bytecode([functions_dir / f"{name}.func" for name in names])
        self.processes: dict[str, subprocess.Popen[str]] = {}
        for name in names:
            func = functions_dir / f"{name}.func"
            config = json.loads((func / ".vc-config.json").read_text())
            process_env = {**env, **config.get("environment", {})}
            self.processes[name] = subprocess.Popen(
                [python, "-c", RUNNER],
                cwd=func,
                env=process_env,
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                text=True,
            )

    def invoke(self, name: str, request: Mapping[str, Any]) -> dict[str, Any]:
        process = self.processes[name]
        assert process.stdin is not None and process.stdout is not None
        process.stdin.write(json.dumps(request) + "\n")
        process.stdin.flush()
        line = process.stdout.readline()
        assert line, f"function {name} exited (code {process.poll()})"
        message = json.loads(line)
        assert "error" not in message, message["error"]
        response: dict[str, Any] = message["response"]
        return response

    def close(self) -> None:
        for process in self.processes.values():
            if process.stdin:
                process.stdin.close()
        for process in self.processes.values():
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
            if process.stdout:
                process.stdout.close()
        self.processes.clear()


def vercel_request(
    method: str,
    path: str,
    *,
    query: Sequence[tuple[str, str]] = (),
    headers: Sequence[tuple[str, str]] = (),
    body: bytes = b"",
) -> dict[str, Any]:
    """The payload Vercel's proxy gives a Python function for a request."""
    target = path
    if query:
        target += "?" + "&".join(f"{name}={value}" for name, value in query)
    merged: dict[str, str] = {}
    for name, value in headers:
        key = name.lower()
        merged[key] = f"{merged[key]}, {value}" if key in merged else value
    payload: dict[str, Any] = {"method": method, "path": target, "headers": merged}
    if body:
        payload["body"] = base64.b64encode(body).decode()
        payload["encoding"] = "base64"
    return payload


def vercel_answer(response: Mapping[str, Any]) -> Answer:
    """Read vc_handler's answer."""
    headers: dict[str, list[str]] = {}
    cookies: list[str] = []
    for name, values in (response.get("headers") or {}).items():
        values = values if isinstance(values, list) else [values]
        if name.lower() == "set-cookie":
            cookies.extend(values)
        else:
            headers.setdefault(name.lower(), []).extend(values)
    body = response.get("body") or ""
    data = base64.b64decode(body) if response.get("encoding") == "base64" else body.encode()
    return Answer(int(response["statusCode"]), headers, cookies, data)
