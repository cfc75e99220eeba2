"""``fastsplit verify``: generated and recorded requests to the monolith and to the split,
answers compared; a deliberately broken split must fail with a readable difference."""

from __future__ import annotations

import json
import re
import shutil
import sys
import textwrap
import warnings
from collections.abc import Iterator
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner, Result

from fastsplit.local.cases import Case, generate, load_cases
from fastsplit.local.compare import Answer, compare
from fastsplit.local.deployment import LocalError
from fastsplit.local.verify import VerifyOptions, verify
from tests.conftest import APPS, REPO

runner = CliRunner()
EXAMPLE_DB = ("--env", "EXAMPLE_APP_DB={tmp}/app.sqlite3")
KEY = ("-H", "X-API-Key: secret")


@pytest.fixture(autouse=True)
def _restore_interpreter_state(monkeypatch: pytest.MonkeyPatch) -> None:
    """verify imports apps in this process: keep sys.path and bytecode flags per test."""
    monkeypatch.setattr(sys, "path", list(sys.path))
    monkeypatch.setattr(sys, "dont_write_bytecode", True)


def cli_app() -> typer.Typer:
    """The ``fastsplit`` app with the local commands (registered by cli.py, or here)."""
    from fastsplit.cli import app

    if any(command.name == "verify" for command in app.registered_commands):
        return app
    from fastsplit.cli_local import register

    local = typer.Typer(pretty_exceptions_enable=False)
    register(local)
    return local


def run(*args: str | Path) -> Result:
    return runner.invoke(cli_app(), ["verify", *(str(arg) for arg in args)])


def test_example_app_passes(tmp_path: Path) -> None:
    result = run("example_app.main:app", "--app-dir", REPO, *EXAMPLE_DB, *KEY)
    assert result.exit_code == 0, result.output
    assert result.stdout == ""
    lines = result.stderr.splitlines()
    assert lines[-1].endswith("requests: the 20 functions answer like example_app.main:app")
    # The fallback imports the app (it has middleware): its answers are the monolith's,
    # headers included.
    assert not [line for line in lines if "fallback" in line and "known" in line]


def test_strict_fails_on_known_differences(tmp_path: Path) -> None:
    cases = tmp_path / "cases.json"
    # The trailing-slash redirect has no Content-Type; Mangum labels it JSON.
    cases.write_text(json.dumps([{"path": "/items/"}]))
    args = ("example_app.main:app", "--app-dir", REPO, "--cases", cases, "--no-generate")
    assert run(*args).exit_code == 0
    result = run(*args, "--strict")
    assert result.exit_code == 1, result.output
    assert result.stdout.startswith("Known differences")
    assert "known: Mangum labels an answer without Content-Type as JSON" in result.stderr


def _corrupt(build: Path, function: str) -> None:
    """Change what one generated function answers, as a broken generator might."""
    handler = build / "functions" / function / "handler.py"
    handler.write_text(
        handler.read_text()
        + textwrap.dedent(
            """

            _deployed = handler


            def handler(event, context):
                response = _deployed(event, context)
                response["body"] = response["body"].replace("Widget", "Wodget")
                return response
            """
        )
    )


def test_a_broken_split_fails_with_a_readable_difference(
    example_build: Path, tmp_path: Path
) -> None:
    build = tmp_path / "build"
    shutil.copytree(example_build, build)  # copy2: static files keep their times
    _corrupt(build, "get_items_item_id")
    result = run("--build", build, "--app-dir", REPO, *EXAMPLE_DB, *KEY)
    assert result.exit_code == 1, result.output
    assert result.stdout.startswith("Differences")
    for text in ("GET /items/1", "body.name", '"Widget"', '"Wodget"'):
        assert text in result.stdout
    assert re.fullmatch(
        r"1 of \d+ requests differ between example_app.main:app and its 20 functions",
        result.stderr.splitlines()[-1],
    )
    as_json = run("--build", build, "--app-dir", REPO, *EXAMPLE_DB, *KEY, "--json", "--read-only")
    report = json.loads(as_json.stdout)
    assert report["ok"] is False and report["unexercised"] == [
        "post_users",
        "delete_users_user_id",
        "post_items",
        "patch_put_items_item_id",
        "delete_items_item_id",
        "post_auth_login",
    ]
    assert {k["function"] for k in report["known"]} == {"fallback", "get_favicon_ico"}
    assert all(k["reason"] for k in report["known"])
    assert report["differences"] == [
        {
            "function": "get_items_item_id",
            "method": "GET",
            "path": "/items/1",
            "query": [],
            "note": "valid",
            "what": "body.name",
            "monolith": '"Widget"',
            "split": '"Wodget"',
        }
    ]


FIXTURE_APPS = [
    pytest.param("minimal:app", (), id="minimal"),
    pytest.param("routers_tree:app", (("X-Token", "tree-token"),), id="routers_tree"),
    pytest.param("nasty:app", (), id="nasty"),
    pytest.param("mounts:app", (), id="mounts"),
    pytest.param("settings:app", (), id="settings"),
    pytest.param("inmemory:app", (), id="inmemory"),
    pytest.param("lifespan_counter:app", (), id="lifespan_counter"),
]


@pytest.mark.parametrize(("app_ref", "headers"), FIXTURE_APPS)
def test_fixture_apps_pass(app_ref: str, headers: tuple[tuple[str, str], ...]) -> None:
    options = VerifyOptions(
        app_ref=app_ref,
        app_dir=APPS,
        headers=headers,
        env=(("LIFESPAN_COUNTER_FILE", "{tmp}/counter"),),
    )
    report = verify(options)
    assert not report.failed, [(r.case.label, r.differences) for r in report.failed]
    assert report.unexercised == []
    assert all(r.function is not None for r in report.results)


def test_state_shared_by_both_sides_shows_up(tmp_path: Path) -> None:
    """Without ``--env ...{tmp}`` both sides count lifespan startups in the same file."""
    report = verify(VerifyOptions(app_ref="lifespan_counter:app", app_dir=APPS))
    differences = [d for result in report.failed for d in result.differences]
    assert [d.what for d in differences] == ["body.started"]


def test_recorded_cases_catch_in_memory_state(tmp_path: Path) -> None:
    cases = tmp_path / "cases.json"
    cases.write_text(
        json.dumps(
            [
                {"method": "POST", "path": "/users/7?name=ann", "name": "create"},
                {"method": "GET", "path": "/users/7", "name": "read back"},
            ]
        )
    )
    result = run("inmemory:app", "--app-dir", APPS, "--cases", cases, "--no-generate", "--json")
    assert result.exit_code == 1, result.output
    report = json.loads(result.stdout)
    assert report["requests"] == 2
    status = next(d for d in report["differences"] if d["what"] == "status")
    assert status == {
        "function": "get_users_user_id",
        "method": "GET",
        "path": "/users/7",
        "query": [],
        "note": "recorded: read back",
        "what": "status",
        "monolith": "200",
        "split": "404",
    }


def test_mistakes_get_one_line(tmp_path: Path) -> None:
    missing = run("--build", tmp_path / "nothing")
    assert missing.exit_code == 1
    assert missing.stderr.startswith("error: no fastsplit build in")
    bad_cases = tmp_path / "cases.json"
    bad_cases.write_text("[{")
    result = run("minimal:app", "--app-dir", APPS, "--cases", bad_cases)
    assert result.exit_code == 1
    assert result.stderr.startswith(f"error: --cases {bad_cases} is not valid JSON")
    no_routes = run("no_routes:app", "--app-dir", APPS)
    assert no_routes.exit_code == 1
    assert no_routes.stderr.startswith("error: the app cannot be split: no_routes:app")


# --- requests ---------------------------------------------------------------------------


@pytest.fixture
def example_cases(example_build: Path) -> Iterator[list[Case]]:
    import example_app.main

    manifest = json.loads((example_build / "manifest.json").read_text())
    example_app.main.app.openapi_schema = None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # FastAPI: the PUT/PATCH route's operation id
        schema = example_app.main.app.openapi()
    yield generate(manifest, schema)
    example_app.main.app.openapi_schema = None


def test_generated_requests_cover_valid_and_invalid_input(example_cases: list[Case]) -> None:
    by_note = {(c.method, c.path, c.note): c for c in example_cases}
    create = by_note[("POST", "/users", "valid")]
    body = json.loads(create.body)
    assert body["email"] == "user@example.com" and len(body["password"]) >= 8
    assert ("content-type", "application/json") in create.headers
    assert ("POST", "/users", "invalid: body without required fields") in by_note
    assert ("POST", "/users", "invalid: malformed JSON") in by_note
    assert ("GET", "/users/not-a-number", "invalid: path user_id not a int") in by_note
    wrong_type = by_note[("GET", "/items", "invalid: query limit wrong type")]
    assert wrong_type.query == (("limit", "not-a-number"),)
    assert ("GET", "/files/example/file.txt", "valid") in by_note
    assert ("GET", "/static/pixel.png", "mount, static file") in by_note
    assert ("GET", "/users/", "no route: trailing slash") in by_note
    methods = [case.method for case in example_cases]
    assert methods.index("POST") > max(i for i, m in enumerate(methods) if m == "GET")
    assert set(methods[methods.index("DELETE") :]) == {"DELETE"}


def test_read_only_sends_only_safe_methods(example_build: Path) -> None:
    manifest = json.loads((example_build / "manifest.json").read_text())
    cases = generate(manifest, None, read_only=True)
    assert {case.method for case in cases} <= {"GET", "HEAD", "OPTIONS"}
    assert any(case.path == "/users/1" for case in cases)  # from the route table alone


def test_recorded_cases_file(tmp_path: Path) -> None:
    path = tmp_path / "cases.json"
    path.write_text(
        json.dumps(
            {
                "cases": [
                    {"path": "/a%20b?x=1", "query": {"y": ["2", "3"]}, "headers": {"H": "v"}},
                    {"method": "post", "path": "/b", "json": {"k": 1}, "name": "make b"},
                    {"method": "PUT", "path": "/c", "body": "plain"},
                ]
            }
        )
    )
    a, b, c = load_cases(path)
    assert (a.method, a.path, a.query, a.headers) == (
        "GET",
        "/a b",
        (("x", "1"), ("y", "2"), ("y", "3")),
        (("H", "v"),),
    )
    assert (b.method, b.body, b.note) == ("POST", b'{"k": 1}', "recorded: make b")
    assert ("content-type", "application/json") in b.headers
    assert c.body == b"plain"
    path.write_text(json.dumps([{"method": "GET"}]))
    with pytest.raises(LocalError, match=r"case 1: each case needs at least a 'path'"):
        load_cases(path)
    path.write_text(json.dumps([{"path": "/x", "jsn": {}}]))
    with pytest.raises(LocalError, match=r"case 1: unknown key\(s\) jsn"):
        load_cases(path)
    path.write_text(json.dumps([{"path": "/x", "query": "a=1"}]))
    with pytest.raises(LocalError, match=r"case 1: 'query' and 'headers' must be objects"):
        load_cases(path)


# --- comparison -------------------------------------------------------------------------


def answer(status: int = 200, *headers: tuple[str, str], body: bytes = b"") -> Answer:
    return Answer.from_items(status, list(headers), body)


JSON = ("content-type", "application/json")


def test_json_bodies_compare_as_data_and_allow_as_a_set() -> None:
    a = answer(405, JSON, ("allow", "PUT, PATCH"), body=b'{"a": 1, "b": [1, 2]}')
    b = answer(405, JSON, ("allow", "PATCH, PUT"), body=b'{"b":[1,2],"a":1}')
    assert compare(a, b) == ([], [])


def test_transport_headers_do_not_count_but_custom_ones_do() -> None:
    a = answer(200, ("date", "x"), ("server", "uvicorn"), ("x-custom", "1"))
    b = answer(200, ("date", "y"), ("content-length", "0"), ("x-custom", "2"))
    differences, known = compare(a, b)
    assert [(d.what, d.monolith, d.split) for d in differences] == [("header x-custom", "1", "2")]
    assert known == []


def test_repeated_headers_and_cookies() -> None:
    a = answer(
        200, ("vary", "Origin"), ("vary", "Accept"), ("set-cookie", "a=1"), ("set-cookie", "b=2")
    )
    b = answer(200, ("vary", "Origin,Accept"), ("set-cookie", "a=1"), ("set-cookie", "b=2"))
    assert compare(a, b) == ([], [])
    c = answer(200, ("vary", "Origin, Accept"), ("set-cookie", "a=1"))
    differences, _ = compare(a, c)
    assert [(d.what, d.monolith, d.split) for d in differences] == [
        ("set-cookie", "a=1 | b=2", "a=1")
    ]


def test_known_differences_are_reported_apart() -> None:
    # A header the app's middleware adds, missing from any function (the fallback
    # included: it imports the app when the app has middleware), is a difference.
    monolith = answer(404, JSON, ("x-app-version", "1"), body=b'{"detail":"Not Found"}')
    fallback = answer(404, JSON, body=b'{"detail":"Not Found"}')
    assert compare(monolith, fallback)[0]
    untyped = answer(307, ("location", "/x"))
    labelled = answer(307, ("location", "/x"), JSON)
    differences, known = compare(untyped, labelled)
    assert differences == [] and [k.what for k in known] == ["header content-type"]


def test_body_differences_point_at_the_change() -> None:
    a = answer(200, JSON, body=b'{"items": [{"id": 1, "name": "a"}, {"id": 2, "name": "b"}]}')
    b = answer(200, JSON, body=b'{"items": [{"id": 1, "name": "a"}, {"id": 2, "name": "B"}]}')
    (difference,), _ = compare(a, b)
    assert (difference.what, difference.monolith, difference.split) == (
        "body.items[1].name",
        '"b"',
        '"B"',
    )
    text = answer(200, body=b"x" * 100 + b"tail one")
    other = answer(200, body=b"x" * 100 + b"tail two")
    (difference,), _ = compare(text, other)
    assert difference.monolith.endswith("tail one") and difference.monolith.startswith("…")
    binary = compare(answer(200, body=b"\xff\x00"), answer(200, body=b"\xff\x01"))
    assert binary[0][0].monolith == "(2 bytes of binary data)"
