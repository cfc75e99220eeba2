"""End to end: every function of example_app, called with real Lambda events in three
formats (HTTP API payload 2.0, REST API payload 1.0, ALB), answers exactly like the
monolith does through TestClient.

Event shapes come from `sam local generate-event` at test time (tests/tooling.py). Each
function runs in its own process with only its folder on sys.path, as in Lambda, and
stays warm across cases. The monolith and the split each get their own SQLite file,
seeded identically, and see the same sequence of requests.

The same comparison runs on tests/apps/slimapp and its variants: slim functions
(rebuilt one-route apps) and the functions that fall back to full mode.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from tests.e2e import Answer, Case, SplitApp, lambda_answer, monolith_answer
from tests.tooling import generate_event

pytestmark = [pytest.mark.tools, pytest.mark.xdist_group("e2e")]

KEY = (("x-api-key", "secret"),)
BROWSER = (("origin", "https://app.example.com"),)

# Every function of example_app, plus what the fallback and the gateway must answer.
CASES: list[Case] = [
    Case("GET", "/"),
    Case("GET", "/health"),
    Case("GET", "/favicon.ico"),
    Case("GET", "/static/hello.txt"),
    Case("GET", "/static/pixel.png"),
    Case("GET", "/static/missing.txt"),
    Case("GET", "/users", headers=KEY),
    Case("GET", "/users", query=(("limit", "2"), ("offset", "1"), ("active", "true")), headers=KEY),
    Case("GET", "/users"),
    Case("GET", "/users", query=(("limit", "0"),), headers=KEY),
    Case("POST", "/users", headers=KEY).json(
        {"name": "dave", "email": "dave@example.com", "password": "dave-password"}
    ),
    Case("POST", "/users", headers=KEY).json({"name": "x"}),
    Case("GET", "/users/1", headers=KEY),
    Case("GET", "/users/4", headers=KEY),
    Case("GET", "/users/999", headers=KEY),
    Case("GET", "/users/1/avatar", headers=KEY),
    Case("DELETE", "/users/3", headers=KEY),
    Case("GET", "/items", query=(("q", "g"), ("max_price", "50"))),
    Case("GET", "/items/1"),
    Case("GET", "/items/999"),
    Case("PUT", "/items/1", headers=KEY).json({"name": "Widget 2", "price": 11.5}),
    Case("PATCH", "/items/1", headers=KEY).json({"price": 12}),
    Case("DELETE", "/items/2", headers=KEY),
    Case("POST", "/items", headers=KEY).json({"name": "Thing", "price": 1.5, "owner_id": 1}),
    Case("POST", "/items", headers=KEY).json({"name": "Thing", "price": 1.5, "owner_id": 99}),
    Case("GET", "/files"),
    Case("GET", "/files/readme.txt"),
    Case("GET", "/files/docs/guide/intro.md"),
    Case("GET", "/files/nope/nothing.txt"),
    Case("POST", "/auth/login").json({"username": "alice", "password": "alice-password"}),
    Case("POST", "/auth/login").json({"username": "alice", "password": "wrong"}),
    Case("GET", "/auth/me", headers=(("cookie", "session=1.bad; username=alice"),)),
    Case("GET", "/openapi.json"),
    Case("GET", "/docs"),
    # CORS: a preflight and a simple request from an allowed origin.
    Case(
        "OPTIONS",
        "/items",
        headers=(*BROWSER, ("access-control-request-method", "POST")),
    ),
    Case("GET", "/items/1", headers=BROWSER),
    # Repeated request headers: payload 2.0 comma-joins them, 1.0 and ALB keep a list.
    Case("GET", "/", headers=(("accept", "text/html"), ("accept", "application/json"))),
    # No route takes these: the fallback function answers like the monolith.
    Case("GET", "/nope"),
    Case("POST", "/items/5"),
    Case("HEAD", "/users/1", headers=KEY),
    Case("GET", "/users/", headers=KEY),
    Case("GET", "/static"),
]


def _login_session() -> str:
    from example_app.routers.auth import sign

    return sign("dev-secret-key", 1)


def _base_url(kind: str) -> str:
    """The URL the gateway's events claim, so redirects name the same host."""
    event = generate_event(kind, method="GET", path="/")
    raw = event.get("headers") or {
        name: values[0] for name, values in event["multiValueHeaders"].items()
    }
    headers = {name.lower(): value for name, value in raw.items()}
    return f"{headers['x-forwarded-proto']}://{headers['host']}"


@pytest.fixture
def monolith(
    request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[TestClient]:
    monkeypatch.setenv("EXAMPLE_APP_DB", str(tmp_path / "monolith.sqlite3"))
    module = importlib.import_module("example_app.main")
    base_url = _base_url(request.node.callspec.params["kind"])
    with TestClient(module.app, base_url=base_url, raise_server_exceptions=False) as client:
        yield client


def _expected(kind: str, answer: Answer) -> Answer:
    """What the split must answer, given the monolith's answer: the same, headers of
    the app's middleware included (the fallback of an app with middleware imports it)."""
    headers = dict(answer.headers)
    if kind == "http" and "content-type" not in headers:
        # Mangum (like API Gateway for payload 2.0) labels an untyped body as JSON.
        headers["content-type"] = ["application/json"]
    return Answer(answer.status, headers, answer.cookies, answer.body)


@pytest.fixture
def split(example_build: Path, tmp_path: Path) -> Iterator[SplitApp]:
    app = SplitApp(example_build, env={"EXAMPLE_APP_DB": str(tmp_path / "split.sqlite3")})
    yield app
    app.close()


def _cases_with_session() -> list[Case]:
    session = ("cookie", f"session={_login_session()}; username=alice")
    return [*CASES, Case("GET", "/auth/me", headers=(session,))]


@pytest.mark.parametrize("kind", ["http", "rest", "alb"])
def test_every_function_answers_like_the_monolith(
    kind: str, monolith: TestClient, split: SplitApp
) -> None:
    used: set[str] = set()
    mismatches = []
    for case in _cases_with_session():
        route = split.route_for(case.method, case.path)
        function = route.function
        used.add(function)
        event = generate_event(
            kind,
            method=case.method,
            path=case.path,
            query=list(case.query),
            headers=list(case.headers),
            body=case.body.decode() if case.body else None,
            route=None if route.path == "$default" else route.path,
        )
        got = lambda_answer(split.invoke(function, event)).for_format(kind, case.method)
        expected = _expected(kind, monolith_answer(monolith, case)).for_format(kind, case.method)
        if got != expected:
            mismatches.append(
                f"{case.label} via {function}:\n  split    {got}\n  monolith {expected}"
            )
    assert not mismatches, "\n".join(mismatches)
    functions = {route.function for route in split.routes}
    assert used == functions, f"functions not exercised: {sorted(functions - used)}"


SLIMAPP_REFS = [
    "slimapp.main:app",
    "slimapp.closures:app",
    "slimapp.circular:app",
    "slimapp.objects:app",
    "slimapp.configured:app",
]

# tests/apps/slimapp: slim functions (light routes, a numpy route, an override, a
# lifespan, middleware, an exception handler) and the fallbacks to full mode.
SLIMAPP_CASES: list[Case] = [
    Case("GET", "/light/ping"),
    Case("GET", "/light/greeting"),
    Case("POST", "/light/echo").json({"text": "ab", "times": 3}),
    Case("POST", "/light/echo").json({"times": "x"}),
    Case("GET", "/light/items/7"),
    Case("GET", "/light/items/700"),
    Case("GET", "/heavy/stats", query=(("values", "1.5"), ("values", "4"))),
    Case("GET", "/heavy/stats"),
    Case("GET", "/hello/ada"),
    Case("GET", "/prefix"),
    Case("GET", "/mode"),
    Case("GET", "/nope"),
]


@pytest.fixture(scope="module")
def slimapp_builds(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Each slimapp variant built once (the apps keep no state between requests)."""
    from tests.conftest import APPS, build_to

    root = tmp_path_factory.mktemp("slimapp-e2e")
    return {ref: build_to(root / ref.replace(":", "_"), ref, APPS) for ref in SLIMAPP_REFS}


@pytest.mark.parametrize("kind", ["http", "rest", "alb"])
@pytest.mark.parametrize("app_ref", SLIMAPP_REFS)
def test_slim_and_fallback_functions_answer_like_the_monolith(
    kind: str, app_ref: str, slimapp_builds: dict[str, Path]
) -> None:
    build = slimapp_builds[app_ref]
    module = importlib.import_module(app_ref.split(":")[0])
    split = SplitApp(build, env={})
    mismatches = []
    try:
        with TestClient(
            module.app, base_url=_base_url(kind), raise_server_exceptions=False
        ) as client:
            for case in SLIMAPP_CASES:
                route = split.route_for(case.method, case.path)
                event = generate_event(
                    kind,
                    method=case.method,
                    path=case.path,
                    query=list(case.query),
                    headers=list(case.headers),
                    body=case.body.decode() if case.body else None,
                    route=None if route.path == "$default" else route.path,
                )
                answer = split.invoke(route.function, event)
                got = lambda_answer(answer).for_format(kind, case.method)
                expected = _expected(kind, monolith_answer(client, case)).for_format(
                    kind, case.method
                )
                if got != expected:
                    mismatches.append(
                        f"{case.label} via {route.function}:\n  split    {got}\n"
                        f"  monolith {expected}"
                    )
    finally:
        split.close()
    assert not mismatches, "\n".join(mismatches)


def test_lifespan_runs_once_per_cold_start(tmp_path: Path) -> None:
    """Mangum's lifespan="auto" would start the app per request (mangum #342)."""
    from tests.conftest import APPS, build_to

    build = build_to(tmp_path / "build", "lifespan_counter:app", APPS)
    counter = tmp_path / "counter"
    split = SplitApp(build, env={"LIFESPAN_COUNTER_FILE": str(counter)})
    try:
        event = generate_event("http", method="GET", path="/count")
        answers = [lambda_answer(split.invoke("get_count", event)) for _ in range(3)]
        assert [a.status for a in answers] == [200, 200, 200]
        assert counter.read_text().strip() == "1"
        assert all(a.body == answers[0].body for a in answers)
        # A warmer ping is answered without an exception and starts nothing again.
        warm = split.invoke("get_count", {"source": "serverless-plugin-warmup"})
        assert "statusCode" not in warm
        assert counter.read_text().strip() == "1"
    finally:
        split.close()


def test_warmer_event_on_a_cold_function_starts_the_app(tmp_path: Path) -> None:
    from tests.conftest import APPS, build_to

    build = build_to(tmp_path / "build", "lifespan_counter:app", APPS)
    counter = tmp_path / "counter"
    split = SplitApp(build, env={"LIFESPAN_COUNTER_FILE": str(counter)})
    try:
        schedule = {"source": "aws.events", "detail-type": "Scheduled Event", "detail": {}}
        assert split.invoke("get_count", schedule)["fastsplit"]["function"] == "get_count"
        assert counter.read_text().strip() == "1"
        event = generate_event("http", method="GET", path="/count")
        assert lambda_answer(split.invoke("get_count", event)).status == 200
        assert counter.read_text().strip() == "1"
    finally:
        split.close()


def test_answer_shapes_are_comparable() -> None:
    """The comparison itself must be able to fail: a changed body is a difference."""
    a = Answer(200, {"content-type": ["text/plain"]}, [], b"x")
    b = Answer(200, {"content-type": ["text/plain"]}, [], b"y")
    assert a.for_format("http", "GET") != b.for_format("http", "GET")
    assert sys.version_info >= (3, 11)
