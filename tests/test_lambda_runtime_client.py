"""Packaged zips run under the real AWS Lambda runtime client and answer like the monolith.

example_app is packaged for the Python the runtime client runs on (``make lambdaric``:
3.11, this machine's), a zip is unzipped into an empty folder as Lambda does (modes and
dates from the zip), and ``python -m awslambdaric handler.handler`` serves real API
Gateway v2 events (``sam local generate-event``) from a local Runtime API
(tests/lambdaric.py). The interpreter runs with -S -E and sys.path = [task folder,
runtime client, standard library]: whatever the function imports must come from its zip,
which each test proves from the module origins and the shared libraries the process maps.
"""

from __future__ import annotations

import calendar
import importlib
import os
import re
import shutil
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from fastsplit.gateway import GatewayRoute, routes_from_manifest, select
from fastsplit.packager import Target, package, read_manifest
from tests.conftest import REPO
from tests.e2e import Answer, Case, lambda_answer, monolith_answer
from tests.lambdaric import lambdaric_dir, lambdaric_python, python_version, run_function
from tests.test_e2e_events import CASES
from tests.test_packager import options, shared_cache
from tests.tooling import ToolError, generate_event

pytestmark = [pytest.mark.tools, pytest.mark.xdist_group("lambdaric")]

# The function of one route, the catch-all, the static mount and one that sets cookies.
FUNCTIONS = ("get_users_user_id", "fallback", "mount_static", "post_auth_login")
# Starlette derives these from the file's mtime: in an unzipped artifact, the zip's date.
FILE_DATE_HEADERS = ("etag", "last-modified")


@pytest.fixture(scope="session")
def runtime_python() -> tuple[Path, str]:
    python = lambdaric_python()
    return python, python_version(python)


@pytest.fixture(scope="session")
def artifacts(
    example_build: Path,
    runtime_python: tuple[Path, str],
    tmp_path_factory: pytest.TempPathFactory,
) -> Path:
    """example_app packaged for the runtime client's Python on x86_64."""
    out = tmp_path_factory.mktemp("lambdaric-dist") / "dist" / "lambda"
    target = Target(python=runtime_python[1], arch="x86_64")
    with pytest.MonkeyPatch.context() as patch:
        patch.delenv("SOURCE_DATE_EPOCH", raising=False)
        package(options(example_build, out, shared_cache(tmp_path_factory), target=target))
    return out


@pytest.fixture(scope="session")
def gateway_routes(example_build: Path) -> list[GatewayRoute]:
    return routes_from_manifest(read_manifest(example_build))


def unzip(archive_path: Path, into: Path) -> list[str]:
    """Extract like Lambda (and `unzip`): each file's mode and date from its entry."""
    with zipfile.ZipFile(archive_path) as archive:
        for info in archive.infolist():
            path = archive.extract(info, into)
            os.chmod(path, (info.external_attr >> 16) & 0o777)
            stamp = calendar.timegm((*info.date_time, 0, 0, 0))
            os.utime(path, (stamp, stamp))
        return archive.namelist()


def files_under(folder: Path) -> set[str]:
    return {p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file()}


def base_url() -> str:
    """The URL the generated events claim, so redirects name the same host."""
    headers = generate_event("http", method="GET", path="/")["headers"]
    return f"{headers['x-forwarded-proto']}://{headers['host']}"


@pytest.fixture
def monolith(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[TestClient]:
    monkeypatch.setenv("EXAMPLE_APP_DB", str(tmp_path / "monolith.sqlite3"))
    module = importlib.import_module("example_app.main")
    with TestClient(module.app, base_url=base_url(), raise_server_exceptions=False) as client:
        yield client


def expected_answer(answer: Answer) -> Answer:
    """What the function must answer through API Gateway v2, given the monolith's answer."""
    headers = dict(answer.headers)
    if "content-type" not in headers:
        # Mangum (like API Gateway for payload 2.0) labels an untyped body as JSON.
        headers["content-type"] = ["application/json"]
    return Answer(answer.status, headers, answer.cookies, answer.body)


def http_event(case: Case, route: GatewayRoute) -> dict[str, object]:
    return generate_event(
        "http",
        method=case.method,
        path=case.path,
        query=list(case.query),
        headers=list(case.headers),
        body=case.body.decode() if case.body else None,
        route=None if route.path == "$default" else route.path,
    )


@pytest.mark.parametrize("function", FUNCTIONS)
def test_artifact_answers_like_the_monolith_under_the_real_runtime(
    function: str,
    artifacts: Path,
    gateway_routes: list[GatewayRoute],
    monolith: TestClient,
    tmp_path: Path,
) -> None:
    task = tmp_path / "task"
    task.mkdir()
    names = unzip(artifacts / f"{function}.zip", task)
    cases = [
        (case, route)
        for case in CASES
        if (route := select(gateway_routes, case.method, case.path)) is not None
        and route.function == function
    ]
    assert len(cases) >= 2, [case.label for case, _ in cases]

    mismatches = []
    env = {"EXAMPLE_APP_DB": str(tmp_path / "artifact.sqlite3")}
    with run_function(task, env=env, function_name=function) as runtime:
        for case, route in cases:
            outcome = runtime.invoke(http_event(case, route))
            assert outcome.kind == "response", f"{case.label}: {outcome}\n{runtime.log()}"
            got = lambda_answer(outcome.payload)
            expected = expected_answer(monolith_answer(monolith, case))
            if function == "mount_static" and got.status == 200:
                # The zip entry's (content-derived) date is the file's mtime on Lambda.
                assert got.headers["last-modified"] != expected.headers["last-modified"]
                for header in FILE_DATE_HEADERS:
                    got.headers.pop(header)
                    expected.headers.pop(header)
            got_view = got.for_format("http", case.method)
            expected_view = expected.for_format("http", case.method)
            if got_view != expected_view:
                mismatches.append(
                    f"{case.label}:\n  zip      {got_view}\n  monolith {expected_view}"
                )
        report = runtime.report()
        mapped = runtime.mapped_files()
        assert runtime.process.poll() is None, runtime.log()  # still warm, waiting for more
    assert not mismatches, "\n".join(mismatches)

    # Nothing came from outside the zip but the runtime client and the standard library.
    ric = lambdaric_dir()
    assert (report["no_site"], report["ignore_environment"]) == (1, 1)
    assert report["path"][:2] == [str(task.resolve()), str(ric)]
    for entry in report["path"][2:]:
        assert entry.startswith(report["base_prefix"]), entry
    assert not [entry for entry in report["path"] if "site-packages" in entry]
    origins = report["origins"]
    in_zip = {"handler", "fastsplit_runtime", "fastapi", "starlette", "pydantic"}
    # Every function imports the app's code, the fallback too (example_app has middleware).
    in_zip |= {"pydantic_core", "mangum", "example_app"}
    for module in in_zip:
        assert origins[module].startswith(f"{task.resolve()}/"), (module, origins[module])
    for module in ("awslambdaric", "runtime_client"):
        assert origins[module].startswith(f"{ric}/"), (module, origins[module])
    libraries = [m for m in mapped if re.search(r"\.so(\.|$)", m)]
    allowed = (f"{task.resolve()}/", f"{ric}/", f"{report['base_prefix']}/", "/usr/lib", "/lib")
    assert [m for m in libraries if not m.startswith(allowed)] == []
    assert not [m for m in libraries if "site-packages" in m or m.startswith(f"{REPO}/.venv")]
    assert [m for m in libraries if "_pydantic_core" in m] == [
        str(task.resolve() / next(n for n in names if "_pydantic_core." in n))
    ]
    # Nothing was written into the task folder (read-only on Lambda): no bytecode, no data.
    assert files_under(task) == set(names)


def test_a_missing_install_says_to_run_make_lambdaric(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FASTSPLIT_TOOLS_DIR", str(tmp_path))
    with pytest.raises(ToolError, match="Run `make lambdaric`"):
        lambdaric_python()


PROBE_HANDLER = """\
import os


def handler(event, context):
    if "fail" in event:
        raise ValueError("boom: " + event["fail"])
    return {
        "request_id": context.aws_request_id,
        "arn": context.invoked_function_arn,
        "function_name": context.function_name,
        "remaining_ms": context.get_remaining_time_in_millis(),
        "trace": os.environ.get("_X_AMZN_TRACE_ID"),
        "event": event,
        "cwd": os.getcwd(),
    }
"""


def test_the_runtime_api_delivers_context_and_reports_handler_errors(tmp_path: Path) -> None:
    """The harness itself: the Lambda-Runtime-* headers reach the handler's context, an
    exception is posted to /error, and the function stays warm afterwards."""
    task = tmp_path / "task"
    task.mkdir()
    (task / "handler.py").write_text(PROBE_HANDLER, encoding="utf-8")
    with run_function(task, function_name="probe") as runtime:
        ok = runtime.invoke({"a": 1})
        failed = runtime.invoke({"fail": "x"})
        again = runtime.invoke({"b": 2})

    assert ok.kind == "response"
    assert ok.payload["request_id"] == ok.request_id
    assert ok.payload["arn"] == "arn:aws:lambda:us-east-1:123456789012:function:probe"
    assert ok.payload["function_name"] == "probe"
    assert 0 < ok.payload["remaining_ms"] <= 30_000
    assert ok.payload["trace"].startswith("Root=1-")
    assert (ok.payload["event"], ok.payload["cwd"]) == ({"a": 1}, str(task.resolve()))
    assert failed.kind == "error" and failed.request_id != ok.request_id
    assert failed.payload["errorType"] == "ValueError"
    assert failed.payload["errorMessage"] == "boom: x"
    assert failed.payload["requestId"] == failed.request_id
    assert (again.kind, again.payload["event"]) == ("response", {"b": 2})


@pytest.mark.parametrize(
    ("removed", "problem"),
    [
        ("mangum", "No module named 'mangum'"),  # a dependency
        ("pydantic_core", "No module named 'pydantic_core'"),  # a compiled dependency
        ("example_app/routers", "No module named 'example_app.routers'"),  # app code
    ],
)
def test_a_missing_module_is_a_visible_init_error(
    removed: str, problem: str, artifacts: Path, tmp_path: Path
) -> None:
    task = tmp_path / "task"
    task.mkdir()
    unzip(artifacts / "get_users_user_id.zip", task)
    target = task / removed
    if target.is_dir():
        shutil.rmtree(target)
    else:
        target.unlink()

    with run_function(task, function_name="get_users_user_id") as runtime:
        error = runtime.wait_init_error()
        code = runtime.wait_exit()
        log = runtime.log()

    assert error.kind == "init_error"
    assert error.error_type == "Runtime.ImportModuleError"
    assert error.payload["errorType"] == "Runtime.ImportModuleError"
    message = f"Unable to import module 'handler': {problem}"
    assert error.payload["errorMessage"] == message
    assert code == 1
    assert f"[ERROR] Runtime.ImportModuleError: {message}" in log


def test_a_changed_static_file_gets_a_new_etag_in_the_next_deployment(
    example_build: Path,
    artifacts: Path,
    runtime_python: tuple[Path, str],
    tmp_path_factory: pytest.TempPathFactory,
    tmp_path: Path,
) -> None:
    # The next deployment: hello.txt edited, same length.
    build = tmp_path / "build"
    shutil.copytree(example_build, build)
    hello = build / "functions" / "mount_static" / "example_app" / "static" / "hello.txt"
    old_text = hello.read_bytes()
    new_text = old_text.swapcase()
    assert new_text != old_text and len(new_text) == len(old_text)
    hello.write_bytes(new_text)
    target = Target(python=runtime_python[1], arch="x86_64")
    cache = shared_cache(tmp_path_factory)
    package(options(build, tmp_path / "next" / "lambda", cache, target=target))

    def get(dist: Path, name: str, headers: list[tuple[str, str]]) -> Answer:
        task = tmp_path / name
        task.mkdir()
        unzip(dist / "mount_static.zip", task)
        case = Case("GET", "/static/hello.txt", headers=tuple(headers))
        route = GatewayRoute(function="mount_static", method="ANY", path="/static/{proxy+}")
        with run_function(task, function_name="mount_static") as runtime:
            outcome = runtime.invoke(http_event(case, route))
        assert outcome.kind == "response", outcome
        return lambda_answer(outcome.payload)

    first = get(artifacts, "first", [])
    second = get(tmp_path / "next" / "lambda", "second", [])
    assert (first.body, second.body) == (old_text, new_text)
    revalidated = get(
        tmp_path / "next" / "lambda", "revalidated", [("if-none-match", first.headers["etag"][0])]
    )
    assert (revalidated.status, revalidated.body) == (200, new_text)
    assert second.headers["etag"] != first.headers["etag"]
