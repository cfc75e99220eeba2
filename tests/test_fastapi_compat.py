"""fastsplit reads every app the same on the oldest supported FastAPI as on the current one,
and what it generates there runs on that stack.

FastAPI 0.115 flattens included routers into ``app.routes``; since 0.137 they stay a tree
that the parser walks with ``iter_route_contexts`` (fastsplit/parser.py), so the two
versions take different code paths to the same answer. The oldest stack is the venv that
``make compat-venv`` builds from tools/requirements-fastapi-oldest.txt; it holds no
fastsplit, the checkout runs there through PYTHONPATH. The current stack is the dev venv
running these tests.

The whole ``routes --json`` manifest is compared, not only names, events and routes:
between FastAPI 0.115.0 (Starlette 0.38) and 0.165.0 (Starlette 1.10) no field differs on
any of these apps (names, endpoints, operation ids, tags, path converters, settings, files
and diagnostics included). Should a future FastAPI legitimately change one (a docs
endpoint's qualified name, say), exclude that field here and say why.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest

from fastsplit.generator import IMPORTS_FILE

REPO = Path(__file__).resolve().parent.parent
APPS = REPO / "tests" / "apps"
RUNNER = REPO / "tests" / "lambda_runner.py"
OLDEST_PINS = REPO / "tools" / "requirements-fastapi-oldest.txt"
OLDEST_VENV = REPO / ".tools" / "fastapi-oldest"
OLDEST_STAMP = REPO / ".tools" / "fastapi-oldest.stamp"

APP_REFS = [
    ("minimal:app", APPS),
    ("routers_tree:app", APPS),
    ("nasty:app", APPS),
    ("mounts:app", APPS),
    ("settings:app", APPS),
    ("inmemory:app", APPS),
    ("lifespan_counter:app", APPS),
    ("example_app.main:app", REPO),
]


@pytest.fixture(scope="session")
def oldest_python() -> Path:
    """The oldest stack's interpreter; fails (not skips) when it is missing or stale, since
    `make test` builds it."""
    python = OLDEST_VENV / "bin" / "python"
    if not OLDEST_STAMP.is_file() or not python.is_file():
        pytest.fail(f"{OLDEST_VENV} is missing: run `make compat-venv` (make test does it)")
    if OLDEST_STAMP.stat().st_mtime < OLDEST_PINS.stat().st_mtime:
        pytest.fail(f"{OLDEST_VENV} is older than {OLDEST_PINS.name}: run `make compat-venv`")
    pinned = re.search(r"^fastapi==(\S+)$", OLDEST_PINS.read_text(), re.MULTILINE)
    assert pinned is not None, f"{OLDEST_PINS} pins no fastapi"
    installed = _run([python, "-c", "import fastapi; print(fastapi.__version__)"], cwd=REPO)
    assert installed.strip() == pinned.group(1)
    return python


def _env(*, checkout: bool) -> dict[str, str]:
    """Warnings are errors in the subprocesses too (pytest's filterwarnings does not reach
    them). With ``checkout`` the repository is importable (fastsplit itself); without, only
    the interpreter's own packages are, as in Lambda."""
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    env["PYTHONWARNINGS"] = "error"
    if checkout:
        env["PYTHONPATH"] = str(REPO)
    return env


def _start(
    args: Sequence[str | Path], *, cwd: Path, checkout: bool = True
) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [str(arg) for arg in args],
        cwd=cwd,
        env=_env(checkout=checkout),
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _wait(process: subprocess.Popen[str], stdin: str = "") -> str:
    try:
        stdout, stderr = process.communicate(stdin, timeout=120)
    except subprocess.TimeoutExpired:
        process.kill()
        process.communicate()
        raise
    assert process.returncode == 0, (
        f"{process.args!r} exited {process.returncode}\n--- stdout\n{stdout}\n--- stderr\n{stderr}"
    )
    return stdout


def _run(args: Sequence[str | Path], *, cwd: Path, checkout: bool = True) -> str:
    return _wait(_start(args, cwd=cwd, checkout=checkout))


def _summary(manifest: dict[str, Any]) -> list[tuple[Any, ...]]:
    """What a deployment is made of: functions, their API Gateway events and routes."""
    return [
        (
            function["name"],
            [(event["method"], event["path"]) for event in function["events"]],
            [(route["methods"], route["path"]) for route in function["routes"]],
        )
        for function in manifest["functions"]
    ]


@pytest.mark.parametrize(("app_ref", "app_dir"), APP_REFS, ids=[ref for ref, _ in APP_REFS])
def test_routes_match_the_current_fastapi(
    oldest_python: Path, app_ref: str, app_dir: Path, tmp_path: Path
) -> None:
    # cwd outside the repository: no [tool.fastsplit] from its pyproject.toml.
    args: list[str | Path] = ["-m", "fastsplit", "routes", app_ref, "--app-dir", app_dir, "--json"]
    old = _start([oldest_python, *args], cwd=tmp_path)
    current = _start([sys.executable, *args], cwd=tmp_path)
    old_manifest = json.loads(_wait(old))
    current_manifest = json.loads(_wait(current))

    assert old_manifest["functions"], f"{app_ref}: no functions on the oldest FastAPI"
    assert _summary(old_manifest) == _summary(current_manifest)
    assert old_manifest == current_manifest


def _http_api_event(path: str, route_key: str, headers: dict[str, str]) -> dict[str, Any]:
    """A minimal API Gateway HTTP API (payload 2.0) event, as Mangum reads it."""
    return {
        "version": "2.0",
        "routeKey": route_key,
        "rawPath": path,
        "rawQueryString": "",
        "headers": {"host": "api.example.com", **headers},
        "requestContext": {
            "http": {
                "method": route_key.split()[0],
                "path": path,
                "protocol": "HTTP/1.1",
                "sourceIp": "192.0.2.1",
                "userAgent": "pytest",
            },
            "routeKey": route_key,
            "stage": "$default",
        },
        "isBase64Encoded": False,
    }


def test_handler_built_on_the_oldest_fastapi_runs_there(
    oldest_python: Path, tmp_path: Path, example_build: Path
) -> None:
    out = tmp_path / "build"
    build_args: list[str | Path] = ["example_app.main:app", "--app-dir", REPO, "--out", out]
    # Lambda only, like the library build it is compared with: vercel/requirements.txt
    # pins the FastAPI that runs fastsplit when the project lists no requirements.
    build_args += ["--target", "lambda"]
    _run([oldest_python, "-m", "fastsplit", "build", *build_args], cwd=tmp_path)
    # Generated text never depends on the FastAPI version, slim handlers included (both
    # stacks prove them). imports.json is left out: it records the import chains through
    # the installed FastAPI, Starlette and pydantic, which differ between the two stacks.
    assert _tree(out, skip=IMPORTS_FILE) == _tree(example_build, skip=IMPORTS_FILE)

    # One warm function, as Lambda runs it: only its folder on sys.path, no checkout.
    route_key = "GET /users/{user_id}"
    events = [
        _http_api_event("/users/1", route_key, {"x-api-key": "secret"}),
        _http_api_event("/users/1", route_key, {}),
    ]
    function = out / "functions" / "get_users_user_id"
    stdout = _wait(
        _start([oldest_python, RUNNER, function], cwd=tmp_path, checkout=False),
        "".join(json.dumps(event) + "\n" for event in events),
    )
    messages = [json.loads(line) for line in stdout.splitlines()]
    assert [m.get("error") for m in messages] == [None, None], messages
    found, denied = (m["response"] for m in messages)

    assert found["statusCode"] == 200
    assert json.loads(found["body"]) == {
        "id": 1,
        "name": "alice",
        "email": "alice@example.com",
        "active": True,
    }
    # The app's own middleware ran inside the function.
    assert found["headers"]["x-app-version"] == "1.4.0"
    # The router-level API-key dependency survives flattening on this FastAPI.
    assert denied["statusCode"] == 401
    assert json.loads(denied["body"]) == {"detail": "Missing or invalid API key"}


def _tree(root: Path, *, skip: str) -> dict[str, bytes]:
    return {
        path.relative_to(root).as_posix(): path.read_bytes()
        for path in sorted(root.rglob("*"))
        if path.is_file() and path.relative_to(root).as_posix() != skip
    }
