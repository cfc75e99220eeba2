"""``fastsplit serve``: the local API Gateway in front of the split's functions.

Real HTTP requests (httpx) to the gateway, each function in its own process, compared
with the monolith through TestClient; small hand-made builds whose stdlib-only handlers
misbehave on purpose (raise, crash, hang, fail to import, answer nonsense); artifacts
made by ``fastsplit package`` with a module missing; and the real command, started and
stopped as a user would, with every process it started accounted for.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import textwrap
import threading
import time
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient

from fastsplit.local.compare import Answer, compare
from fastsplit.local.server import RequestRecord
from fastsplit.local.split import LocalSplit
from tests.conftest import APPS, REPO, build_to

KEY = (("x-api-key", "secret"),)
# Generous: a cold start on a loaded 2-core CI machine can take seconds.
TIMEOUT = 60
ORIGIN = (("origin", "https://app.example.com"),)

# (method, path, query, headers, JSON body): every function of example_app, the
# gateway's greedy paths, cookies, binary bodies and what the fallback answers.
CASES: list[tuple[str, str, dict[str, str], tuple[tuple[str, str], ...], Any]] = [
    ("GET", "/", {}, (), None),
    ("GET", "/", {}, (("accept", "text/html"), ("accept", "application/json")), None),
    ("GET", "/health", {}, (), None),
    ("GET", "/favicon.ico", {}, (), None),
    ("GET", "/static/hello.txt", {}, (), None),
    ("GET", "/static/pixel.png", {}, (), None),
    ("GET", "/static/missing.txt", {}, (), None),
    ("GET", "/users", {"limit": "2", "offset": "1"}, KEY, None),
    ("GET", "/users", {}, (), None),
    ("POST", "/users", {}, KEY, {"name": "dave", "email": "dave@example.com", "password": "x" * 8}),
    ("POST", "/users", {}, KEY, {"name": "x"}),
    ("GET", "/users/4", {}, KEY, None),
    ("GET", "/users/1/avatar", {}, KEY, None),
    ("DELETE", "/users/3", {}, KEY, None),
    ("GET", "/items", {"q": "g", "max_price": "50"}, (), None),
    ("GET", "/items/999", {}, (), None),
    ("PUT", "/items/1", {}, KEY, {"name": "Widget 2", "price": 11.5}),
    ("PATCH", "/items/1", {}, KEY, {"price": 12}),
    ("DELETE", "/items/2", {}, KEY, None),
    ("POST", "/items", {}, KEY, {"name": "Thing", "price": 1.5, "owner_id": 1}),
    ("GET", "/files", {}, (), None),
    ("GET", "/files/docs/guide/intro.md", {}, (), None),
    ("POST", "/auth/login", {}, (), {"username": "alice", "password": "alice-password"}),
    ("GET", "/auth/me", {}, (("cookie", "session=1.bad; username=alice"),), None),
    ("GET", "/openapi.json", {}, (), None),
    ("GET", "/docs", {}, (), None),
    ("OPTIONS", "/items", {}, (*ORIGIN, ("access-control-request-method", "POST")), None),
    ("GET", "/items/1", {}, ORIGIN, None),
    ("GET", "/nope", {}, (), None),
    ("POST", "/items/5", {}, (), None),
    ("HEAD", "/users/1", {}, KEY, None),
    ("GET", "/users/", {}, KEY, None),
]


def _answer(response: httpx.Response) -> Answer:
    return Answer.from_items(response.status_code, response.headers.multi_items(), response.content)


@pytest.fixture
def records() -> list[RequestRecord]:
    return []


@pytest.fixture
def split(
    example_build: Path, tmp_path: Path, records: list[RequestRecord]
) -> Iterator[LocalSplit]:
    env = {**os.environ, "EXAMPLE_APP_DB": str(tmp_path / "split.sqlite3")}
    with LocalSplit(example_build, env=env, on_request=records.append) as running:
        yield running
        pids = list(running.pool.pids().values())
    assert pids and not [pid for pid in pids if _alive(pid)], "worker processes left running"


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie (exited, not yet reaped by its parent) is not running any more.
    return "zombie" not in Path(f"/proc/{pid}/status").read_text().lower()


def test_every_route_answers_like_the_monolith_over_http(
    split: LocalSplit, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import example_app.main

    monkeypatch.setenv("EXAMPLE_APP_DB", str(tmp_path / "monolith.sqlite3"))
    split.pool.start_all(split.deployment.functions)
    mismatches = []
    with (
        TestClient(example_app.main.app, base_url=split.url) as monolith,
        httpx.Client(base_url=split.url, timeout=TIMEOUT) as client,
    ):
        for method, path, query, headers, body in CASES:
            request: dict[str, Any] = {"params": query, "headers": list(headers)}
            request["follow_redirects"] = False
            if body is not None:
                request["json"] = body
            want = _answer(monolith.request(method, path, **request))
            got = _answer(client.request(method, path, **request))
            function = _function(split, method, path)
            differences, _known = compare(want, got)
            if differences:
                mismatches.append(f"{method} {path} via {function}: {differences}")
    assert not mismatches, "\n".join(mismatches)


def _function(split: LocalSplit, method: str, path: str) -> str | None:
    from fastsplit.gateway import select

    route = select(split.deployment.routes, method, path)
    return route.function if route is not None else None


def test_cookies_binary_bodies_and_greedy_paths_reach_the_client(split: LocalSplit) -> None:
    with httpx.Client(base_url=split.url, timeout=TIMEOUT) as client:
        login = client.post("/auth/login", json={"username": "alice", "password": "alice-password"})
        png = client.get("/users/1/avatar", headers=dict(KEY))
        guide = client.get("/files/docs/guide/intro.md")
    cookies = login.headers.get_list("set-cookie")
    assert [c.split("=", 1)[0] for c in cookies] == ["session", "username"]
    assert png.headers["content-type"] == "image/png" and png.content.startswith(b"\x89PNG")
    assert guide.text.startswith("# Introduction")


def test_unknown_path_is_a_404_and_each_function_has_its_own_process(
    split: LocalSplit, records: list[RequestRecord]
) -> None:
    with httpx.Client(base_url=split.url, timeout=TIMEOUT) as client:
        assert client.get("/no/such/thing").status_code == 404
        assert client.get("/no/such/thing").json() == {"detail": "Not Found"}
        assert client.get("/").status_code == 200
        assert client.get("/health").status_code == 200
        assert client.get("/").status_code == 200
    pids = split.pool.pids()
    assert len({pids["fallback"], pids["get_root"], pids["get_health"], os.getpid()}) == 4
    by_function = [(r.function, r.cold) for r in records]
    assert by_function == [
        ("fallback", True),
        ("fallback", False),
        ("get_root", True),
        ("get_health", True),
        ("get_root", False),
    ]
    assert len({r.pid for r in records if r.function == "get_root"}) == 1


def test_without_fallback_the_gateway_answers_404_itself(tmp_path: Path) -> None:
    from fastsplit.config import Config

    build = build_to(
        tmp_path / "build", "minimal:app", APPS, Config(app="minimal:app", fallback=False)
    )
    records: list[RequestRecord] = []
    with (
        LocalSplit(build, on_request=records.append) as split,
        httpx.Client(timeout=TIMEOUT) as client,
    ):
        missing = client.get(f"{split.url}/nope")
        hello = client.get(f"{split.url}/hello/world")
    assert (missing.status_code, missing.json()) == (404, {"message": "Not Found"})
    assert hello.json() == {"message": "hello world"}
    assert [r.function for r in records] == [None, "get_hello_name"]


# --- misbehaving functions (small stdlib-only builds) -----------------------------------

HANDLERS = {
    "echo": """
        import json, os, sys
        print("a print from echo")
        os.write(1, b"bytes written to fd 1\\n")

        def handler(event, context):
            print("handling", event["rawPath"])
            body = {
                "sys_path": sys.path,
                "cwd": os.getcwd(),
                "event": event,
                "pid": os.getpid(),
                "function_name": context.function_name,
                "remaining": context.get_remaining_time_in_millis(),
                "env": {k: os.environ.get(k) for k in ("PYTHONPATH", "FEATURE", "SHARED")},
            }
            return {"statusCode": 200, "headers": {"content-type": "application/json"},
                    "body": json.dumps(body)}
    """,
    "raiser": """
        def handler(event, context):
            raise ValueError("boom from raiser")
    """,
    "crasher": """
        import os, sys
        def handler(event, context):
            print("about to crash", file=sys.stderr, flush=True)
            os._exit(3)
    """,
    "sleeper": """
        import time
        def handler(event, context):
            time.sleep(30)
    """,
    "napper": """
        import time
        def handler(event, context):
            time.sleep(3)
            return {"statusCode": 200, "body": "rested"}
    """,
    "bad_import": """
        import not_a_module_anywhere
        def handler(event, context):
            return {"statusCode": 200}
    """,
    "inferred": """
        def handler(event, context):
            return {"hello": "world"}
    """,
    "shapes": """
        import base64
        def handler(event, context):
            return {
                "statusCode": 201,
                "headers": {"content-type": "application/octet-stream"},
                "multiValueHeaders": {"x-multi": ["one", "two"]},
                "cookies": ["a=1; Path=/", "b=2; Path=/"],
                "body": base64.b64encode(bytes(range(256))).decode(),
                "isBase64Encoded": True,
            }
    """,
    "nonsense": """
        def handler(event, context):
            return {"statusCode": "teapot"}
    """,
}


def tiny_build(root: Path) -> Path:
    """A build of hand-written functions: one per handler above, on ``/<name>`` and
    ``/<name>/{rest+}``; ``sleeper`` has a 1 s timeout, ``echo`` an environment."""
    functions = []
    for name, source in HANDLERS.items():
        folder = root / "functions" / name
        folder.mkdir(parents=True)
        (folder / "handler.py").write_text(textwrap.dedent(source))
        settings: dict[str, Any] = {"timeout": 1 if name == "sleeper" else 10, "memory": 256}
        settings["environment"] = {"FEATURE": "on"} if name == "echo" else {}
        functions.append(
            {
                "name": name,
                "kind": "route",
                "handler": "handler.handler",
                "events": [
                    {"method": "ANY", "path": f"/{name}"},
                    {"method": "ANY", "path": f"/{name}/{{rest+}}"},
                ],
                "settings": settings,
                "files": ["handler.py"],
            }
        )
    manifest = {"app": "tiny:app", "fastsplit_version": "test", "service": "tiny",
                "stage": "dev", "region": "eu-west-1", "functions": functions}  # fmt: skip
    (root / "manifest.json").write_text(json.dumps(manifest))
    return root


@pytest.fixture
def tiny(tmp_path: Path, records: list[RequestRecord]) -> Iterator[tuple[LocalSplit, list[str]]]:
    output: list[str] = []
    env = {**os.environ, "PYTHONPATH": str(REPO), "SHARED": "from-env"}
    with LocalSplit(
        tiny_build(tmp_path / "tiny"),
        env=env,
        on_request=records.append,
        on_output=lambda name, line: output.append(f"{name}: {line}"),
    ) as running:
        yield running, output


def test_a_function_sees_only_its_folder_site_packages_and_the_stdlib(
    tiny: tuple[LocalSplit, list[str]],
) -> None:
    split, output = tiny
    response = httpx.get(
        f"{split.url}/echo/a%20b/c?x=1&x=2&y=%C3%A9", headers={"cookie": "k=v"}, timeout=TIMEOUT
    )
    data = response.json()
    root = str(split.deployment.code_root("echo"))
    assert data["sys_path"][0] == root and data["cwd"] == root
    assert str(REPO) not in data["sys_path"], "the repository (PYTHONPATH, .pth) leaked in"
    assert all(p == root or "python3" in p or "site-packages" in p for p in data["sys_path"])
    assert data["pid"] not in (os.getpid(), None)
    assert data["env"] == {"PYTHONPATH": None, "FEATURE": "on", "SHARED": "from-env"}
    assert data["function_name"] == "tiny-dev-echo"
    assert 0 < data["remaining"] <= 10_000
    event = data["event"]
    assert event["routeKey"] == "ANY /echo/{rest+}"
    assert event["rawPath"] == "/echo/a b/c" == event["requestContext"]["http"]["path"]
    assert event["pathParameters"] == {"rest": "a b/c"}
    assert event["rawQueryString"] == "x=1&x=2&y=%C3%A9"
    assert event["queryStringParameters"] == {"x": "1,2", "y": "é"}
    assert event["cookies"] == ["k=v"] and "cookie" not in event["headers"]
    # The handler's prints went to the log, not into the protocol.
    assert "echo: a print from echo" in output
    assert "echo: bytes written to fd 1" in output
    assert "echo: handling /echo/a b/c" in output


def test_a_raising_handler_is_a_500_and_its_process_stays_warm(
    tiny: tuple[LocalSplit, list[str]], records: list[RequestRecord]
) -> None:
    split, _ = tiny
    first = httpx.get(f"{split.url}/raiser", timeout=TIMEOUT)
    second = httpx.get(f"{split.url}/raiser", timeout=TIMEOUT)
    assert (first.status_code, first.json()) == (500, {"message": "Internal Server Error"})
    assert second.status_code == 500
    assert [r.cold for r in records] == [True, False]
    assert records[0].pid == records[1].pid
    assert records[0].error is not None
    assert str(records[0].error) == "ValueError: boom from raiser"
    assert any("raise ValueError" in frame for frame in records[0].error.stack)


def test_a_crashing_worker_is_a_502_restarted_and_others_keep_serving(
    tiny: tuple[LocalSplit, list[str]], records: list[RequestRecord]
) -> None:
    split, output = tiny
    assert httpx.get(f"{split.url}/crasher", timeout=TIMEOUT).status_code == 502
    assert httpx.get(f"{split.url}/inferred", timeout=TIMEOUT).status_code == 200
    assert httpx.get(f"{split.url}/crasher", timeout=TIMEOUT).status_code == 502
    crashes = [r for r in records if r.function == "crasher"]
    assert [r.cold for r in crashes] == [True, True], "a crashed worker must be replaced"
    assert crashes[0].pid != crashes[1].pid
    error = crashes[0].error
    assert error is not None and error.kind == "crash"
    assert "exited with code 3" in error.message and "about to crash" in error.message
    assert "crasher: about to crash" in output


def test_a_function_over_its_timeout_is_a_504_and_restarted(
    tiny: tuple[LocalSplit, list[str]], records: list[RequestRecord]
) -> None:
    split, _ = tiny
    started = time.monotonic()
    response = httpx.get(f"{split.url}/sleeper", timeout=20)
    assert response.status_code == 504
    assert time.monotonic() - started < 10
    assert records[0].error is not None and records[0].error.kind == "timeout"
    assert split.pool.pids().get("sleeper") is None


def test_a_function_that_cannot_import_is_a_502_naming_the_module(
    tiny: tuple[LocalSplit, list[str]], records: list[RequestRecord]
) -> None:
    split, _ = tiny
    assert httpx.get(f"{split.url}/bad_import", timeout=TIMEOUT).status_code == 502
    error = records[0].error
    assert error is not None and error.kind == "init"
    assert error.error_type == "Runtime.ImportModuleError"
    assert "No module named 'not_a_module_anywhere'" in error.message


def test_lambda_response_shapes_become_http(tiny: tuple[LocalSplit, list[str]]) -> None:
    split, _ = tiny
    shapes = httpx.get(f"{split.url}/shapes", timeout=TIMEOUT)
    assert shapes.status_code == 201
    assert shapes.content == bytes(range(256))
    assert shapes.headers.get_list("x-multi") == ["one", "two"]
    assert shapes.headers.get_list("set-cookie") == ["a=1; Path=/", "b=2; Path=/"]
    inferred = httpx.get(f"{split.url}/inferred", timeout=TIMEOUT)
    assert (inferred.status_code, inferred.json()) == (200, {"hello": "world"})
    assert inferred.headers["content-type"] == "application/json"
    assert httpx.get(f"{split.url}/nonsense", timeout=TIMEOUT).status_code == 502
    assert httpx.head(f"{split.url}/shapes", timeout=TIMEOUT).content == b""


def test_a_busy_function_does_not_hold_up_the_others(
    tiny: tuple[LocalSplit, list[str]],
) -> None:
    split, _ = tiny
    assert httpx.get(f"{split.url}/inferred", timeout=TIMEOUT).status_code == 200  # warm
    results: dict[str, int] = {}

    def get(path: str) -> None:
        results[path] = httpx.get(f"{split.url}{path}", timeout=TIMEOUT).status_code

    slow = threading.Thread(target=get, args=("/napper",))
    slow.start()
    time.sleep(0.5)
    get("/inferred")
    assert slow.is_alive(), "the other function's answer waited for the busy one"
    slow.join(TIMEOUT)
    assert results == {"/inferred": 200, "/napper": 200}


# --- --from dist: the artifacts of `fastsplit package` ----------------------------------


@pytest.fixture(scope="module")
def dist(example_build: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """example_app packaged once for this interpreter (a cold dependency install)."""
    root = tmp_path_factory.mktemp("dist")
    python = f"{sys.version_info[0]}.{sys.version_info[1]}"
    command = [
        sys.executable, "-m", "fastsplit", "package", "--build", str(example_build),
        "--out", str(root / "dist"), "--requirements", str(REPO / "example_app/requirements.txt"),
        "--python", python, "--cache-dir", str(root / "cache"),
    ]  # fmt: skip
    result = subprocess.run(command, capture_output=True, text=True, timeout=600, check=False)
    assert result.returncode == 0, result.stderr
    return root / "dist" / "lambda"


def _without(zip_path: Path, prefix: str) -> None:
    """Rewrite an artifact without the entries under ``prefix``."""
    tmp = zip_path.with_suffix(".tmp")
    with zipfile.ZipFile(zip_path) as source, zipfile.ZipFile(tmp, "w") as target:
        names = [n for n in source.namelist() if not n.startswith(prefix)]
        assert len(names) < len(source.namelist()), f"{prefix} is not in {zip_path.name}"
        for name in names:
            target.writestr(source.getinfo(name), source.read(name))
    tmp.replace(zip_path)


@pytest.mark.xdist_group("local-dist")
def test_a_module_missing_from_an_artifact_fails_there_and_only_there(
    example_build: Path, dist: Path, tmp_path: Path
) -> None:
    broken = tmp_path / "lambda"
    shutil.copytree(dist, broken)
    _without(broken / "get_users_user_id_avatar.zip", "example_app/images.py")
    # A third-party package too: the interpreter's site-packages must not stand in.
    _without(broken / "get_health.zip", "mangum/")
    records: list[RequestRecord] = []
    env = {**os.environ, "EXAMPLE_APP_DB": str(tmp_path / "split.sqlite3")}
    with (
        LocalSplit(example_build, source="dist", dist=broken, env=env, on_request=records.append)
        as split,
        httpx.Client(base_url=split.url, headers=dict(KEY), timeout=TIMEOUT) as client,
    ):  # fmt: skip
        avatar = client.get("/users/1/avatar")
        health = client.get("/health")
        user = client.get("/users/1")
        root = split.deployment.code_root("get_users_user_id")
    assert (avatar.status_code, health.status_code, user.status_code) == (502, 502, 200)
    assert user.json()["name"] == "alice"
    errors = {r.function: r.error for r in records if r.error is not None}
    assert set(errors) == {"get_users_user_id_avatar", "get_health"}
    avatar_error = str(errors["get_users_user_id_avatar"])
    assert "Unable to import module 'handler'" in avatar_error
    assert "No module named 'example_app.images'" in avatar_error
    assert "No module named 'mangum'" in str(errors["get_health"])
    assert not root.exists(), "unzipped artifacts are removed when the split stops"


@pytest.mark.xdist_group("local-dist")
def test_artifacts_answer_like_the_monolith(
    example_build: Path, dist: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from fastsplit.local.verify import VerifyOptions, verify

    options = VerifyOptions(
        app_ref="example_app.main:app",
        app_dir=REPO,
        build=example_build,
        source="dist",
        dist=dist,
        headers=KEY,
        env=(("EXAMPLE_APP_DB", "{tmp}/app.sqlite3"),),
    )
    report = verify(options)
    assert not report.failed, [(r.case.label, r.differences) for r in report.failed]
    reasons = {known.reason for result in report.with_known for known in result.known}
    assert any("deterministic artifact" in reason for reason in reasons)


# --- the command itself -----------------------------------------------------------------


def fastsplit_command() -> list[str]:
    """``python -m fastsplit`` once cli.py registers the local commands; until then the
    same Typer app with them added."""
    from fastsplit.cli import app

    if any(command.name == "serve" for command in app.registered_commands):
        return [sys.executable, "-m", "fastsplit"]
    code = (
        "from fastsplit.cli import app; from fastsplit.cli_local import register; "
        "register(app); app()"
    )
    return [sys.executable, "-c", code]


def _children(pid: int) -> set[int]:
    """Processes whose parent is ``pid``, from each process's stat: /proc/PID/task/*/children
    misses children whose creating thread has exited (the worker pool's threads)."""
    found: set[int] = set()
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rpartition(")")[2].split()
        except OSError:
            continue
        if fields and int(fields[1]) == pid:
            found.add(int(stat.parent.name))
    return found


def _listening(pids: set[int]) -> list[str]:
    """Local addresses of the TCP sockets these processes listen on."""
    inodes: set[str] = set()
    for pid in pids:
        for fd in Path(f"/proc/{pid}/fd").iterdir():
            try:
                target = os.readlink(fd)
            except OSError:
                continue
            if target.startswith("socket:["):
                inodes.add(target[8:-1])
    addresses = []
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            fields = line.split()
            if fields[3] == "0A" and fields[9] in inodes:  # 0A: LISTEN
                addresses.append(fields[1])
    return addresses


def test_serve_command_binds_loopback_logs_each_request_and_stops_every_process(
    example_build: Path, tmp_path: Path
) -> None:
    env = {**os.environ, "EXAMPLE_APP_DB": str(tmp_path / "serve.sqlite3")}
    command = [*fastsplit_command(), "serve", "--build", str(example_build), "--port", "0"]
    lines: list[str] = []
    ready = threading.Event()
    workers: set[int] = set()
    with subprocess.Popen(
        command, cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    ) as server:
        _exercise_server(server, lines, ready, workers)
    assert server.returncode == 0, lines
    assert not [pid for pid in workers if _alive(pid)], "workers outlived the server"
    log = "\n".join(lines)
    assert re.search(r"GET / → get_root 200 \d+ ms \(cold start \d+ ms, pid \d+\)", log), log
    assert re.search(r"GET /nope → fallback 404", log), log
    assert "Stopping" in log


def _exercise_server(
    server: subprocess.Popen[str], lines: list[str], ready: threading.Event, workers: set[int]
) -> None:
    def read() -> None:
        assert server.stdout is not None
        for line in server.stdout:
            lines.append(line.rstrip("\n"))
            if "Ctrl-C to stop" in line:
                ready.set()

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    try:
        assert ready.wait(60), f"the server did not start in 60 s: {lines}"
        url = re.search(r"on (http://127\.0\.0\.1:\d+)", "\n".join(lines))
        assert url is not None, lines
        with httpx.Client(base_url=url.group(1), timeout=TIMEOUT) as client:
            assert client.get("/").json()["name"] == "example_app"
            assert client.get("/users/1", headers=dict(KEY)).status_code == 200
            assert client.get("/nope").status_code == 404
        workers.update(_children(server.pid))
        assert len(workers) == 3
        addresses = _listening({server.pid, *workers})
        assert addresses and all(a.startswith("0100007F:") for a in addresses), addresses
    finally:
        _interrupt(server)
        reader.join(10)


def _interrupt(server: subprocess.Popen[str]) -> None:
    """Ctrl-C, then at most 30 s for everything to stop (killed after that)."""
    server.send_signal(signal.SIGINT)
    try:
        server.wait(30)
    except subprocess.TimeoutExpired:
        server.kill()
        server.wait()
        raise


def test_serve_refuses_a_busy_port_with_one_line(example_build: Path, tmp_path: Path) -> None:
    import socket

    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        command = [*fastsplit_command(), "serve", "--build", str(example_build)]
        result = subprocess.run(
            [*command, "--port", str(port)],
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
    assert result.returncode == 1
    assert result.stderr.startswith(f"error: cannot listen on 127.0.0.1:{port}: "), result.stderr
    assert result.stderr.rstrip().endswith("choose another --host or --port")


def test_serve_without_a_build_says_what_to_do(tmp_path: Path) -> None:
    command = [*fastsplit_command(), "serve", "--build", str(tmp_path / "nothing")]
    result = subprocess.run(
        command, cwd=tmp_path, capture_output=True, text=True, timeout=60, check=False
    )
    assert result.returncode == 1
    assert "no fastsplit build in" in result.stderr and "fastsplit build" in result.stderr


def test_reload_rebuilds_when_the_app_changes(tmp_path: Path) -> None:
    app_dir = tmp_path / "app"
    app_dir.mkdir()
    source = 'from fastapi import FastAPI\napp = FastAPI()\n\n@app.get("/v")\ndef v():\n'
    (app_dir / "svc.py").write_text(source + '    return {"v": 1}\n')
    build = tmp_path / "build"
    command = [
        *fastsplit_command(), "serve", "svc:app", "--app-dir", str(app_dir),
        "--build", str(build), "--port", "0", "--reload",
    ]  # fmt: skip
    lines: list[str] = []
    with subprocess.Popen(
        command, cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    ) as server:
        _edit_while_serving(server, lines, app_dir / "svc.py", source)
    assert server.returncode == 0, lines


def _edit_while_serving(
    server: subprocess.Popen[str], lines: list[str], module: Path, source: str
) -> None:
    events = {"ready": threading.Event(), "rebuilt": threading.Event()}

    def read() -> None:
        assert server.stdout is not None
        for line in server.stdout:
            lines.append(line.rstrip("\n"))
            if "Ctrl-C to stop" in line:
                events["ready"].set()
            if line.startswith("Rebuilt"):
                events["rebuilt"].set()

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    try:
        assert events["ready"].wait(60), lines
        url = re.search(r"on (http://127\.0\.0\.1:\d+)", "\n".join(lines))
        assert url is not None
        assert httpx.get(f"{url.group(1)}/v", timeout=TIMEOUT).json() == {"v": 1}
        time.sleep(0.1)  # a different modification time, whatever the clock's resolution
        module.write_text(source + '    return {"v": 2}\n')
        assert events["rebuilt"].wait(60), lines
        assert httpx.get(f"{url.group(1)}/v", timeout=TIMEOUT).json() == {"v": 2}
    finally:
        _interrupt(server)
        reader.join(10)
