"""fastsplit.runtime in-process: LambdaFunction around real FastAPI apps, and the
fallback app answering what the monolith answers when no route takes a request.

Every test gets its own event loop and its own LambdaFunction; the lifespan is shut
down and the loop closed afterwards, so no task is left pending (Mangum runs the app on
the thread's current event loop).
"""

from __future__ import annotations

import asyncio
import json
import logging
import subprocess
import sys
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from types import SimpleNamespace
from typing import Any
from urllib.parse import urlsplit

import pytest
from fastapi import FastAPI, Request
from fastapi.testclient import TestClient
from starlette.types import ASGIApp, Receive, Scope, Send

from fastsplit import runtime
from fastsplit.runtime import LambdaFunction, fallback_app

IGNORED = "not an HTTP event"


def http_event(
    method: str,
    path: str,
    *,
    query: str = "",
    headers: dict[str, str] | None = None,
    body: str = "",
) -> dict[str, Any]:
    """An API Gateway HTTP API (payload format 2.0) request event."""
    return {
        "version": "2.0",
        "routeKey": "$default",
        "rawPath": path,
        "rawQueryString": query,
        "headers": {
            "host": "api.example.com",
            "x-forwarded-proto": "https",
            "user-agent": "pytest",
            **(headers or {}),
        },
        "requestContext": {
            "accountId": "123456789012",
            "apiId": "abc123",
            "domainName": "api.example.com",
            "domainPrefix": "api",
            "http": {
                "method": method,
                "path": path,
                "protocol": "HTTP/1.1",
                "sourceIp": "192.0.2.1",
                "userAgent": "pytest",
            },
            "requestId": "request-1",
            "routeKey": "$default",
            "stage": "$default",
            "time": "01/Jan/2025:00:00:00 +0000",
            "timeEpoch": 1735689600000,
        },
        "isBase64Encoded": False,
        "body": body,
    }


def rest_event(method: str, path: str) -> dict[str, Any]:
    """An API Gateway REST API (payload format 1.0) request event."""
    return {
        "resource": "/{proxy+}",
        "path": path,
        "httpMethod": method,
        "headers": {"host": "api.example.com"},
        "multiValueHeaders": {"host": ["api.example.com"]},
        "queryStringParameters": None,
        "multiValueQueryStringParameters": None,
        "pathParameters": None,
        "stageVariables": None,
        "requestContext": {"identity": {"sourceIp": "192.0.2.1"}, "stage": "prod"},
        "body": None,
        "isBase64Encoded": False,
    }


def alb_event(method: str, path: str) -> dict[str, Any]:
    return {
        "requestContext": {"elb": {"targetGroupArn": "arn:aws:elasticloadbalancing:x"}},
        "httpMethod": method,
        "path": path,
        "queryStringParameters": {},
        "headers": {"host": "api.example.com"},
        "body": "",
        "isBase64Encoded": False,
    }


WARMUP_EVENT = {"source": "serverless-plugin-warmup"}
SCHEDULED_EVENT = {
    "version": "0",
    "id": "53dc4d37-cffa-4f76-80c9-8b7d4a4d2eaa",
    "detail-type": "Scheduled Event",
    "source": "aws.events",
    "account": "123456789012",
    "time": "2025-01-01T00:00:00Z",
    "region": "us-east-1",
    "resources": ["arn:aws:events:us-east-1:123456789012:rule/warmer"],
    "detail": {},
}
NON_HTTP_EVENTS = [
    pytest.param(WARMUP_EVENT, id="serverless-plugin-warmup"),
    pytest.param(SCHEDULED_EVENT, id="eventbridge-scheduled"),
    pytest.param("ping", id="string"),
    pytest.param(None, id="none"),
    pytest.param([1, 2], id="list"),
    pytest.param({}, id="empty-dict"),
    pytest.param({"Records": [{"eventSource": "aws:sqs", "body": "x"}]}, id="sqs"),
    pytest.param({"Records": [1]}, id="records-of-numbers"),
    pytest.param({"Records": 5}, id="records-not-a-list"),
]


def body(response: dict[str, Any]) -> Any:
    return json.loads(response["body"])


@dataclass
class Runtime:
    """Makes LambdaFunctions for one test; collects the exit hooks they register."""

    exit_hooks: list[Callable[[], None]] = field(default_factory=list)

    def function(self, app: ASGIApp, *, name: str = "fn", lifespan: bool = True) -> LambdaFunction:
        return LambdaFunction(app, name=name, lifespan=lifespan)

    def exit(self) -> None:
        for hook in self.exit_hooks:
            hook()


@pytest.fixture
def rt(monkeypatch: pytest.MonkeyPatch) -> Iterator[Runtime]:
    state = Runtime()
    # Capture atexit hooks instead of registering them for the pytest process.
    monkeypatch.setattr(runtime, "atexit", SimpleNamespace(register=state.exit_hooks.append))
    # Mangum's asyncio.get_event_loop() may have made this thread a loop in an earlier
    # test: put it back afterwards, or it is collected unclosed (a ResourceWarning in
    # whichever later test the garbage collector runs).
    previous = asyncio.get_event_loop_policy()._local._loop  # type: ignore[attr-defined]
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    try:
        yield state
    finally:
        state.exit()
        pending = asyncio.all_tasks(loop)
        for task in pending:
            task.cancel()
        if pending:
            loop.run_until_complete(asyncio.gather(*pending, return_exceptions=True))
        loop.run_until_complete(loop.shutdown_asyncgens())
        loop.close()
        asyncio.set_event_loop(previous)


# ---------------------------------------------------------------- apps under test


def counting_app(log: list[str]) -> FastAPI:
    """An app whose lifespan records startups/shutdowns and yields state."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[dict[str, Any]]:
        log.append("startup")
        yield {"greeting": "hello", "startup_number": log.count("startup")}
        log.append("shutdown")

    app = FastAPI(lifespan=lifespan)

    @app.get("/state")
    def read_state(request: Request) -> dict[str, Any]:
        return {
            "greeting": request.state.greeting,
            "startup_number": request.state.startup_number,
            "startups_so_far": log.count("startup"),
        }

    @app.post("/state")
    def change_state(request: Request) -> dict[str, str]:
        request.state.greeting = "changed"
        return {"greeting": request.state.greeting}

    @app.get("/items/{item_id}")
    def item(item_id: int) -> dict[str, int]:
        return {"item_id": item_id}

    return app


# ---------------------------------------------------------------- LambdaFunction


def test_http_request_is_answered(rt: Runtime) -> None:
    handler = rt.function(counting_app([]))
    response = handler(http_event("GET", "/items/7"), None)
    assert response["statusCode"] == 200
    assert body(response) == {"item_id": 7}


def test_lifespan_startup_runs_once_across_many_invocations(rt: Runtime) -> None:
    log: list[str] = []
    handler = rt.function(counting_app(log))
    for _ in range(5):
        response = handler(http_event("GET", "/state"), None)
        assert body(response)["startups_so_far"] == 1
    assert log == ["startup"]


def test_lifespan_does_not_start_before_the_first_invocation(rt: Runtime) -> None:
    log: list[str] = []
    handler = rt.function(counting_app(log))
    assert log == []
    handler(http_event("GET", "/items/1"), None)
    assert log == ["startup"]


def test_request_state_sees_lifespan_state(rt: Runtime) -> None:
    handler = rt.function(counting_app([]))
    assert body(handler(http_event("GET", "/state"), None)) == {
        "greeting": "hello",
        "startup_number": 1,
        "startups_so_far": 1,
    }


def test_request_state_changes_do_not_leak_into_the_next_request(rt: Runtime) -> None:
    handler = rt.function(counting_app([]))
    assert body(handler(http_event("POST", "/state"), None)) == {"greeting": "changed"}
    assert body(handler(http_event("GET", "/state"), None))["greeting"] == "hello"


@pytest.mark.parametrize("event", NON_HTTP_EVENTS)
def test_non_http_event_is_answered_harmlessly_and_starts_the_lifespan(
    rt: Runtime, event: Any
) -> None:
    log: list[str] = []
    handler = rt.function(counting_app(log), name="get_state")
    assert handler(event, None) == {"fastsplit": {"function": "get_state", "ignored": IGNORED}}
    assert log == ["startup"]


def test_a_failure_inside_mangum_is_raised_for_http_events_only(rt: Runtime) -> None:
    """Mangum recognises events first: what it raises is the request's failure when
    the event is an HTTP request, and means "not a request" otherwise."""
    handler = rt.function(counting_app([]))

    class Broken:
        config = handler._mangum.config

        def __call__(self, event: Any, context: Any) -> Any:
            raise RuntimeError("broken")

    handler._mangum = Broken()  # type: ignore[assignment]
    with pytest.raises(RuntimeError, match="broken"):
        handler(http_event("GET", "/state"), None)
    assert handler(WARMUP_EVENT, None)["fastsplit"]["ignored"] == IGNORED


def test_request_after_a_warmer_reuses_the_started_lifespan(rt: Runtime) -> None:
    log: list[str] = []
    handler = rt.function(counting_app(log))
    handler(WARMUP_EVENT, None)
    handler(SCHEDULED_EVENT, None)
    assert body(handler(http_event("GET", "/state"), None))["startups_so_far"] == 1
    assert log == ["startup"]


def test_non_http_event_is_logged(rt: Runtime, caplog: pytest.LogCaptureFixture) -> None:
    handler = rt.function(counting_app([]), name="warm_me")
    with caplog.at_level(logging.INFO, logger="fastsplit"):
        handler(WARMUP_EVENT, None)
    assert "fastsplit warm_me: ignored a non-HTTP event (warmer?)" in caplog.messages


def test_lifespan_shutdown_is_registered_once_and_runs_once(rt: Runtime) -> None:
    log: list[str] = []
    handler = rt.function(counting_app(log))
    for _ in range(3):
        handler(http_event("GET", "/state"), None)
    assert len(rt.exit_hooks) == 1
    rt.exit()
    assert log == ["startup", "shutdown"]
    rt.exit()
    assert log == ["startup", "shutdown"]


def test_lifespan_off_never_starts_the_app_lifespan(rt: Runtime) -> None:
    log: list[str] = []
    handler = rt.function(counting_app(log), lifespan=False)
    assert body(handler(http_event("GET", "/items/3"), None)) == {"item_id": 3}
    assert handler(WARMUP_EVENT, None)["fastsplit"]["ignored"] == IGNORED
    assert log == []
    assert rt.exit_hooks == []


def test_each_function_has_its_own_lifespan(rt: Runtime) -> None:
    first_log: list[str] = []
    second_log: list[str] = []
    first = rt.function(counting_app(first_log), name="a")
    second = rt.function(counting_app(second_log), name="b")
    first(http_event("GET", "/state"), None)
    second(http_event("GET", "/state"), None)
    first(http_event("GET", "/state"), None)
    assert first_log == second_log == ["startup"]


def test_failed_startup_raises_and_the_next_invocation_retries(rt: Runtime) -> None:
    attempts: list[int] = []

    @asynccontextmanager
    async def flaky_lifespan(app: FastAPI) -> AsyncIterator[dict[str, Any]]:
        attempts.append(len(attempts) + 1)
        if len(attempts) == 1:
            raise RuntimeError("database is down")
        yield {"attempt": len(attempts)}

    app = FastAPI(lifespan=flaky_lifespan)

    @app.get("/attempt")
    def attempt(request: Request) -> dict[str, int]:
        return {"attempt": request.state.attempt}

    handler = rt.function(app)
    with pytest.raises(Exception, match="database is down"):
        handler(http_event("GET", "/attempt"), None)
    assert body(handler(http_event("GET", "/attempt"), None)) == {"attempt": 2}
    assert body(handler(http_event("GET", "/attempt"), None)) == {"attempt": 2}
    assert attempts == [1, 2]


async def no_lifespan_app(scope: Scope, receive: Receive, send: Send) -> None:
    """A bare ASGI app that only speaks HTTP, as many hand-written ones do."""
    if scope["type"] != "http":
        raise RuntimeError(f"unsupported scope {scope['type']}")
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": b"raw"})


def test_app_without_lifespan_support_still_serves_requests(
    rt: Runtime, caplog: pytest.LogCaptureFixture
) -> None:
    handler = rt.function(no_lifespan_app)
    with caplog.at_level(logging.CRITICAL, logger="mangum"):
        first = handler(http_event("GET", "/anything"), None)
        second = handler(http_event("GET", "/anything"), None)
    assert (first["statusCode"], first["body"]) == (200, "raw")
    assert (second["statusCode"], second["body"]) == (200, "raw")


@pytest.mark.parametrize(
    ("event", "expected"),
    [
        (http_event("GET", "/"), True),
        (rest_event("GET", "/"), True),
        (alb_event("GET", "/"), True),
        (WARMUP_EVENT, False),
        (SCHEDULED_EVENT, False),
        ("GET /", False),
    ],
)
def test_is_http_event(rt: Runtime, event: Any, expected: bool) -> None:
    assert rt.function(counting_app([])).is_http_event(event, None) is expected


@pytest.mark.parametrize("make_event", [rest_event, alb_event])
def test_rest_and_alb_events_are_served(rt: Runtime, make_event: Any) -> None:
    handler = rt.function(counting_app([]))
    response = handler(make_event("GET", "/items/5"), None)
    assert response["statusCode"] == 200
    assert body(response) == {"item_id": 5}


# ---------------------------------------------------------------- fallback app


def _endpoint() -> dict[str, str]:
    return {"ok": "yes"}


def monolith() -> FastAPI:
    """The route table below as a real app (docs off, so the tables are the same)."""
    app = FastAPI(docs_url=None, redoc_url=None, openapi_url=None)
    app.add_api_route("/users", _endpoint, methods=["GET"])
    app.add_api_route("/users", _endpoint, methods=["POST"])
    app.add_api_route("/users/{user_id:int}", _endpoint, methods=["GET"])
    app.add_api_route("/items/{item_id:int}", _endpoint, methods=["GET"])
    app.add_api_route("/items/{item_id:int}", _endpoint, methods=["PATCH", "PUT"])
    app.add_api_route("/files/{file_path:path}", _endpoint, methods=["GET"])
    app.mount("/static", FastAPI())
    return app


TABLE: list[tuple[str, tuple[str, ...] | None]] = [
    ("/users", ("GET",)),
    ("/users", ("POST",)),
    ("/users/{user_id:int}", ("GET",)),
    ("/items/{item_id:int}", ("GET",)),
    ("/items/{item_id:int}", ("PATCH", "PUT")),
    ("/files/{file_path:path}", ("GET",)),
    ("/static", None),
]


@pytest.fixture
def fallback(rt: Runtime) -> LambdaFunction:
    return rt.function(fallback_app(TABLE), name="fallback", lifespan=False)


def test_unknown_path_is_fastapis_404(fallback: LambdaFunction) -> None:
    response = fallback(http_event("GET", "/nowhere"), None)
    assert response["statusCode"] == 404
    assert response["body"] == '{"detail":"Not Found"}'
    assert response["headers"]["content-type"] == "application/json"


def test_known_path_other_method_is_405_with_allow(fallback: LambdaFunction) -> None:
    response = fallback(http_event("DELETE", "/users/3"), None)
    assert response["statusCode"] == 405
    assert response["body"] == '{"detail":"Method Not Allowed"}'
    assert response["headers"]["allow"] == "GET"


def test_405_allow_lists_every_method_of_a_multi_method_route(rt: Runtime) -> None:
    table = [("/items/{item_id:int}", ("PATCH", "PUT"))]
    handler = rt.function(fallback_app(table), name="fallback", lifespan=False)
    response = handler(http_event("DELETE", "/items/1"), None)
    assert (response["statusCode"], response["headers"]["allow"]) == (405, "PATCH, PUT")


def test_trailing_slash_is_a_307_redirect(fallback: LambdaFunction) -> None:
    response = fallback(http_event("GET", "/users/"), None)
    assert response["statusCode"] == 307
    assert response["headers"]["location"] == "https://api.example.com/users"


def test_redirect_keeps_the_query_string(fallback: LambdaFunction) -> None:
    response = fallback(http_event("GET", "/users/", query="limit=5&q=a%20b"), None)
    assert response["statusCode"] == 307
    assert response["headers"]["location"] == "https://api.example.com/users?limit=5&q=a%20b"


def test_missing_trailing_slash_redirects_to_a_mount(fallback: LambdaFunction) -> None:
    response = fallback(http_event("GET", "/static"), None)
    assert response["statusCode"] == 307
    assert response["headers"]["location"] == "https://api.example.com/static/"


def test_redirects_off_gives_404(rt: Runtime) -> None:
    handler = rt.function(
        fallback_app(TABLE, redirect_slashes=False), name="fallback", lifespan=False
    )
    assert handler(http_event("GET", "/users/"), None)["statusCode"] == 404


@pytest.mark.parametrize("method", ["GET", "POST", "DELETE", "PATCH", "OPTIONS"])
def test_mounts_take_every_method(fallback: LambdaFunction, method: str) -> None:
    response = fallback(http_event(method, "/static/css/site.css"), None)
    # Never 405: a mount takes every method; the gateway sends the mount function
    # everything below /static/, so reaching the fallback means "not found".
    assert response["statusCode"] == 404


def test_converter_mismatch_is_404(fallback: LambdaFunction) -> None:
    assert fallback(http_event("GET", "/users/abc"), None)["statusCode"] == 404


def test_full_match_means_tables_disagree_and_is_a_logged_404(
    fallback: LambdaFunction, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING, logger="fastsplit"):
        response = fallback(http_event("GET", "/users/42"), None)
    assert response["statusCode"] == 404
    assert "fastsplit fallback: GET /users/42 matches /users/{user_id:int}" in caplog.messages


def test_fallback_answers_non_http_events_harmlessly(fallback: LambdaFunction) -> None:
    assert fallback(WARMUP_EVENT, None) == {
        "fastsplit": {"function": "fallback", "ignored": IGNORED}
    }


# Requests the gateway would send to the fallback: nothing else takes them.
UNMATCHED = [
    ("GET", "/nowhere", ""),
    ("DELETE", "/users", ""),
    ("PUT", "/users", ""),
    ("HEAD", "/users", ""),
    ("DELETE", "/users/7", ""),
    ("DELETE", "/items/7", ""),
    ("GET", "/users/abc", ""),
    ("GET", "/users/", ""),
    ("POST", "/users/", "x=1"),
    ("GET", "/users/7/", ""),
    ("GET", "/static", ""),
    ("GET", "/static", "v=2"),
    ("POST", "/files/a/b", ""),
    ("GET", "/files", ""),
]


@pytest.mark.parametrize(("method", "path", "query"), UNMATCHED)
def test_fallback_answers_like_the_monolith(
    fallback: LambdaFunction, method: str, path: str, query: str
) -> None:
    with TestClient(monolith(), follow_redirects=False) as client:
        expected = client.request(method, path + (f"?{query}" if query else ""))
    actual = fallback(http_event(method, path, query=query), None)
    headers = actual["headers"]
    assert actual["statusCode"] == expected.status_code
    if method != "HEAD":
        assert actual["body"] == expected.text
    assert headers.get("allow") == expected.headers.get("allow")
    if "location" in expected.headers:
        location = urlsplit(headers["location"])
        wanted = urlsplit(expected.headers["location"])
        assert (location.path, location.query) == (wanted.path, wanted.query)


# ---------------------------------------------------------------- pydantic.v1


DEFERRED_V1 = """
import sys, warnings
from fastsplit.runtime import defer_pydantic_v1_import

deferred = sys.argv[1] == "defer"
if deferred:
    defer_pydantic_v1_import()
    defer_pydantic_v1_import()  # twice: no wrapper around the wrapper

from fastapi import FastAPI
from fastapi.encoders import jsonable_encoder
from fastapi.testclient import TestClient
from pydantic import BaseModel


class Item(BaseModel):
    name: str


app = FastAPI()


@app.post("/items")
def create(item: Item) -> Item:
    return item


answer = TestClient(app).post("/items", json={"name": "a"})
print(answer.status_code, answer.json())
if deferred:
    assert "pydantic.v1" not in sys.modules, "FastAPI imported pydantic.v1 after all"

# Once pydantic.v1 is imported, FastAPI's own checks run again.
with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from pydantic import v1


class Old(v1.BaseModel):
    name: str


def old_route(old: Old) -> None: ...


for what, attempt in [
    ("route", lambda: app.add_api_route("/old", old_route, methods=["POST"])),
    ("encode", lambda: jsonable_encoder(Old(name="x"))),
]:
    try:
        attempt()
    except Exception as error:
        print(what, "refused:", type(error).__name__)
    else:
        print(what, "accepted")
"""


def test_pydantic_v1_is_not_imported_until_something_else_does(tmp_path: Path) -> None:
    # Fresh interpreters: this test process may have imported pydantic.v1 already.
    script = tmp_path / "deferred.py"
    script.write_text(DEFERRED_V1, encoding="utf-8")

    def run(mode: str) -> str:
        done = subprocess.run(
            [sys.executable, str(script), mode], capture_output=True, text=True, check=False
        )
        assert done.returncode == 0, done.stderr
        return done.stdout

    deferred, plain = run("defer"), run("plain")
    # The same answers, and the same verdicts on pydantic.v1 models once it is imported.
    assert deferred == plain
    assert deferred.startswith("200 {'name': 'a'}\n")
