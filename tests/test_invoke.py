"""``fastsplit invoke``: one function, once, in its own process, from an event file or an
HTTP request given on the command line."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner, Result

from fastsplit.local.events import HttpRequest, http_api_event

runner = CliRunner()
KEY = ("-H", "X-API-Key: secret")


def cli_app() -> typer.Typer:
    """The ``fastsplit`` app with the local commands (registered by cli.py, or here)."""
    from fastsplit.cli import app

    if any(command.name == "invoke" for command in app.registered_commands):
        return app
    from fastsplit.cli_local import register

    local = typer.Typer(pretty_exceptions_enable=False)
    register(local)
    return local


def invoke(build: Path, *args: str, stdin: str | None = None) -> Result:
    return runner.invoke(cli_app(), ["invoke", *args, "--build", str(build)], input=stdin)


def test_method_and_path_print_the_response(example_build: Path) -> None:
    result = invoke(example_build, "get_users_user_id", "--path", "/users/1", *KEY)
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[0].startswith("200 (get_users_user_id, ")
    assert "cold start" in lines[0]
    assert "content-type: application/json" in lines
    assert "x-app-version: 1.4.0" in lines
    body = json.loads(lines[-1])
    assert body == {"name": "alice", "email": "alice@example.com", "id": 1, "active": True}


def test_json_prints_the_raw_lambda_response(example_build: Path) -> None:
    result = invoke(example_build, "get_users_user_id", "--path", "/users/2", *KEY, "--json")
    assert result.exit_code == 0, result.output
    response = json.loads(result.stdout)
    assert response["statusCode"] == 200
    assert response["headers"]["content-type"] == "application/json"
    assert json.loads(response["body"])["name"] == "bob"


def test_a_4xx_answer_is_a_success_of_the_function(example_build: Path) -> None:
    result = invoke(example_build, "get_users_user_id", "--path", "/users/1", "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["statusCode"] == 401


def test_a_post_with_data_prints_every_cookie(example_build: Path) -> None:
    data = json.dumps({"username": "alice", "password": "alice-password"})
    result = invoke(
        example_build, "post_auth_login", "--method", "POST", "--path", "/auth/login",
        "--data", data,
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    cookies = [line for line in result.stdout.splitlines() if line.startswith("set-cookie: ")]
    assert [c.split("=", 1)[0] for c in cookies] == ["set-cookie: session", "set-cookie: username"]


def test_a_binary_body_is_not_dumped_on_the_terminal(example_build: Path) -> None:
    result = invoke(example_build, "get_users_user_id_avatar", "--path", "/users/1/avatar", *KEY)
    assert result.exit_code == 0, result.output
    assert "content-type: image/png" in result.stdout
    assert "characters of base64: --json shows them" in result.stdout


def test_an_event_file(example_build: Path, tmp_path: Path) -> None:
    request = HttpRequest("GET", "/items/1", (("host", "api.example.com"),))
    from fastsplit.gateway import GatewayRoute

    event = http_api_event(request, GatewayRoute("GET", "/items/{item_id}", "get_items_item_id"))
    path = tmp_path / "event.json"
    path.write_text(json.dumps(event))
    result = invoke(example_build, "get_items_item_id", "--event", str(path))
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout.splitlines()[-1])["name"] == "Widget"


def test_an_event_on_stdin_that_is_no_http_request(example_build: Path) -> None:
    warmer = json.dumps({"source": "serverless-plugin-warmup"})
    result = invoke(example_build, "get_root", "--event", "-", "--json", stdin=warmer)
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["fastsplit"]["function"] == "get_root"


@pytest.mark.tools
@pytest.mark.parametrize("kind", ["http", "rest", "alb"])
def test_an_event_from_sam_local_generate_event(
    example_build: Path, tmp_path: Path, kind: str
) -> None:
    from tests.tooling import generate_event

    event = generate_event(
        kind,  # type: ignore[arg-type]
        method="GET",
        path="/items/2",
        route="/items/{item_id}" if kind != "alb" else None,
        headers=[("accept", "application/json")],
    )
    path = tmp_path / f"{kind}.json"
    path.write_text(json.dumps(event))
    result = invoke(example_build, "get_items_item_id", "--event", str(path), "--json")
    assert result.exit_code == 0, result.output
    response = json.loads(result.stdout)
    assert response["statusCode"] == 200
    assert json.loads(response["body"])["name"] == "Gadget"


def test_a_handler_that_raises_fails_the_command(example_build: Path, tmp_path: Path) -> None:
    build = tmp_path / "build"
    shutil.copytree(example_build, build)
    handler = build / "functions" / "get_root" / "handler.py"
    handler.write_text(
        handler.read_text() + "\n\ndef handler(event, context):\n"
        "    raise RuntimeError('corrupted on purpose')\n"
    )
    result = invoke(build, "get_root", "--path", "/")
    assert result.exit_code == 1
    assert result.stdout == ""
    assert "error: function get_root raised: RuntimeError: corrupted on purpose" in result.stderr
    assert "handler.py" in result.stderr  # the stack trace
    as_json = invoke(build, "get_root", "--path", "/", "--json")
    assert as_json.exit_code == 1
    assert json.loads(as_json.stdout)["errorType"] == "RuntimeError"


def test_mistakes_get_one_line(example_build: Path) -> None:
    unknown = invoke(example_build, "nope", "--path", "/")
    assert unknown.exit_code == 1
    assert unknown.stderr.startswith("error: no function 'nope' in ")
    elsewhere = invoke(example_build, "get_root", "--path", "/users/1")
    assert elsewhere.exit_code == 1
    assert elsewhere.stderr.strip() == (
        "error: function get_root does not serve GET /users/1 (GET /, OPTIONS /)"
    )
    neither = invoke(example_build, "get_root")
    assert neither.exit_code == 1
    assert "--event FILE" in neither.stderr
