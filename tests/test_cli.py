"""The command line: exit codes, one clear line per problem, and what gets written.

Every test runs in its own empty working directory and builds under tmp_path, so the
repository is never written to.
"""

from __future__ import annotations

import gc
import json
import os
import re
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner, Result

from fastsplit import __version__, cli, proof_io
from fastsplit.cli import app
from fastsplit.config import Config
from fastsplit.errors import BuildError
from fastsplit.generator import manifest_data
from tests.conftest import APPS, plan_for, record_backgrounds

runner = CliRunner()


@pytest.fixture(autouse=True)
def _isolated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """An empty working directory; no bytecode; modules imported from tmp forgotten."""
    work = tmp_path / "cwd"
    work.mkdir()
    monkeypatch.chdir(work)
    monkeypatch.setattr(sys, "dont_write_bytecode", True)
    monkeypatch.setattr(sys, "path", list(sys.path))
    before = set(sys.modules)
    yield
    root = tmp_path.resolve()
    for name in set(sys.modules) - before:
        file = getattr(sys.modules[name], "__file__", None)
        if file and Path(file).resolve().is_relative_to(root):
            del sys.modules[name]


def run(*args: str | Path) -> Result:
    return runner.invoke(app, [str(arg) for arg in args])


def routes(app_ref: str, *args: str | Path) -> Result:
    return run("routes", app_ref, "--app-dir", APPS, *args)


def build(app_ref: str, out: Path, *args: str | Path) -> Result:
    return run("build", app_ref, "--app-dir", APPS, "--out", out, *args)


def stderr_lines(result: Result) -> list[str]:
    return [line for line in result.stderr.splitlines() if line.strip()]


def assert_no_traceback(result: Result) -> None:
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(
        result.exception
    )
    assert "Traceback" not in result.output


def assert_one_error_line(result: Result) -> str:
    """Exit code 1, one ``error:`` line on stderr and nothing else; returns the line."""
    assert result.exit_code == 1, result.output
    assert_no_traceback(result)
    lines = stderr_lines(result)
    assert len(lines) == 1, lines
    assert lines[0].startswith("error: ")
    return lines[0]


def snapshot(folder: Path) -> dict[str, bytes]:
    return {
        path.relative_to(folder).as_posix(): path.read_bytes()
        for path in sorted(folder.rglob("*"))
        if path.is_file()
    }


def write_module(folder: Path, name: str, source: str) -> None:
    (folder / f"{name}.py").write_text(textwrap.dedent(source), encoding="utf-8")


# ---------------------------------------------------------------- bad inputs


COMMANDS = ["routes", "build"]


def invoke(command: str, app_ref: str, tmp_path: Path, *args: str | Path) -> Result:
    if command == "routes":
        return routes(app_ref, *args)
    return build(app_ref, tmp_path / "out", *args)


@pytest.mark.parametrize("command", COMMANDS)
@pytest.mark.parametrize(
    ("app_ref", "expected"),
    [
        ("no_such_module_xyz:app", "cannot import module 'no_such_module_xyz'"),
        ("minimal:nope", "module 'minimal' has no attribute 'nope'"),
        ("not_an_app:app", "'not_an_app:app' is a dict, not a FastAPI or Starlette app"),
        ("bad_import:app", "DATABASE_URL is not set"),
        ("minimal", "APP 'minimal' must look like 'module:attribute'"),
    ],
)
def test_app_import_problems_are_one_line(
    tmp_path: Path, command: str, app_ref: str, expected: str
) -> None:
    line = assert_one_error_line(invoke(command, app_ref, tmp_path))
    assert expected in line
    assert not (tmp_path / "out").exists()


def test_import_error_names_the_users_file_and_line() -> None:
    line = assert_one_error_line(routes("bad_import:app"))
    assert "bad_import.py, line 8" in line


@pytest.mark.parametrize("command", COMMANDS)
@pytest.mark.parametrize(
    ("app_ref", "expected"),
    [
        ("bad_settings:app", "GET /tiny: memory 64 is out of range"),
        ("unknown_setting:app", "GET /typo: unknown setting 'memroy'"),
    ],
)
def test_bad_x_fastsplit_settings_are_one_line(
    tmp_path: Path, command: str, app_ref: str, expected: str
) -> None:
    assert expected in assert_one_error_line(invoke(command, app_ref, tmp_path))
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize(
    ("flag", "value", "expected"),
    [
        ("--memory", "64", "memory 64 is out of range; use a whole number from 128 to 10240"),
        ("--runtime", "python2.7", "runtime 'python2.7' is not a Lambda Python runtime"),
        ("--architecture", "arm", "architecture 'arm' is not supported"),
        ("--timeout", "0", "timeout 0 is out of range"),
        ("--stage", "dev-1", "stage 'dev-1' must be letters and digits only"),
        ("--region", "moon-1", "region 'moon-1' is not an AWS region name"),
        ("--service", "my_service", "service 'my_service' must start with a letter"),
    ],
)
def test_invalid_flags_are_one_line(tmp_path: Path, flag: str, value: str, expected: str) -> None:
    line = assert_one_error_line(build("minimal:app", tmp_path / "out", flag, value))
    assert expected in line
    assert not (tmp_path / "out").exists()


def test_non_integer_memory_is_a_usage_error(tmp_path: Path) -> None:
    result = build("minimal:app", tmp_path / "out", "--memory", "lots")
    assert result.exit_code == 2
    assert_no_traceback(result)
    assert "Invalid value for '--memory'" in result.stderr


def test_app_without_routes_fails(tmp_path: Path) -> None:
    result = build("no_routes:app", tmp_path / "out")
    assert result.exit_code == 1
    assert_no_traceback(result)
    assert stderr_lines(result) == [
        "error: no_routes:app: the app has no HTTP routes to split",
        "Build stopped: 1 error(s); nothing was written.",
    ]
    assert not (tmp_path / "out").exists()


def test_routes_of_an_app_without_routes_fails() -> None:
    line = assert_one_error_line(routes("no_routes:app"))
    assert line == "error: no_routes:app: the app has no HTTP routes to split"


def test_lambda_endpoint_builds_a_full_function_saying_why(tmp_path: Path) -> None:
    result = build("lambda_endpoint:app", tmp_path / "out")
    assert result.exit_code == 0, result.output
    assert_no_traceback(result)
    assert stderr_lines(result)[0] == (
        "info: GET /x: full mode, not slim: endpoint lambda_endpoint:<lambda> is a lambda; "
        "define it with def at module level"
    )
    manifest = json.loads((tmp_path / "out" / "manifest.json").read_text())
    (get_x,) = [f for f in manifest["functions"] if f["name"] == "get_x"]
    assert get_x["mode"] == "full"


def test_closure_endpoints_build_full_with_one_line_per_reason(tmp_path: Path) -> None:
    result = build("closure:app", tmp_path / "out")
    assert result.exit_code == 0, result.output
    assert_no_traceback(result)
    lines = stderr_lines(result)
    # Both closures have the same name, so the same reason: one line for both routes.
    assert lines[0] == (
        "info: GET /greet/{name}, GET /bonjour/{name}: full mode, not slim: endpoint "
        "closure:make_greeter.<locals>.greet is a closure made inside make_greeter(); only "
        "module-level names can be imported by a function"
    )
    assert lines[1].startswith("info: GET /plain: full mode, not slim: its endpoint is defined")


def test_routes_shows_the_mode_of_each_function() -> None:
    result = routes("lambda_endpoint:app")
    assert result.exit_code == 0
    assert_no_traceback(result)
    assert re.search(r"│ get_x +│ full +│", result.stdout), result.stdout
    assert stderr_lines(result)[0].startswith("info: GET /x: full mode, not slim: endpoint")


def test_two_routes_mapped_to_one_function_name_is_one_line(tmp_path: Path) -> None:
    app_dir = tmp_path / "project"
    app_dir.mkdir()
    write_module(
        app_dir,
        "cli_same_name_app",
        """
        from fastapi import FastAPI

        app = FastAPI()


        @app.get("/first", openapi_extra={"x-fastsplit": {"name": "shared"}})
        def first() -> dict[str, int]:
            return {"n": 1}


        @app.get("/second", openapi_extra={"x-fastsplit": {"name": "shared"}})
        def second() -> dict[str, int]:
            return {"n": 2}
        """,
    )
    result = run("build", "cli_same_name_app:app", "--app-dir", app_dir, "--out", tmp_path / "o")
    line = assert_one_error_line(result)
    assert "GET /first" in line
    assert "GET /second" in line
    assert "both map to function name 'shared'" in line
    assert not (tmp_path / "o").exists()


def test_out_pointing_at_a_file_is_one_line(tmp_path: Path) -> None:
    target = tmp_path / "file.txt"
    target.write_text("mine\n")
    line = assert_one_error_line(build("minimal:app", target))
    assert "is a file, not a folder; choose another --out" in line
    assert target.read_text() == "mine\n"


def test_out_at_a_foreign_non_empty_folder_is_refused_untouched(tmp_path: Path) -> None:
    folder = tmp_path / "docs"
    (folder / "sub").mkdir(parents=True)
    (folder / "index.md").write_text("# mine\n")
    (folder / "sub" / "data.bin").write_bytes(b"\x00\x01")
    before = snapshot(folder)
    line = assert_one_error_line(build("minimal:app", folder))
    assert "is a non-empty folder that fastsplit did not create" in line
    assert snapshot(folder) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["cwd", "docs"]


def test_out_below_a_file_is_one_line(tmp_path: Path) -> None:
    (tmp_path / "file.txt").write_text("")
    assert_one_error_line(build("minimal:app", tmp_path / "file.txt" / "build"))


def test_no_app_anywhere_is_one_line(tmp_path: Path) -> None:
    line = assert_one_error_line(run("routes", "--project", tmp_path))
    assert "no app given: pass APP" in line


def test_error_messages_are_printed_verbatim(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text('[tool.fastsplit]\napp = "minimal:app"\nbogus = 1\n')
    line = assert_one_error_line(run("routes", "--project", tmp_path, "--app-dir", APPS))
    assert "pyproject.toml [tool.fastsplit]: unknown key 'bogus'" in line


def test_out_path_with_brackets_is_reported_verbatim(tmp_path: Path) -> None:
    out = tmp_path / "build[v2]"
    result = build("minimal:app", out)
    assert result.exit_code == 0
    assert stderr_lines(result)[-1] == f"Built 4 functions into {out}/"


def test_routes_ignores_an_unrelated_build_folder() -> None:
    Path("build").mkdir()
    Path("build", "lib.txt").write_text("setuptools output\n")
    assert routes("minimal:app").exit_code == 0


# ---------------------------------------------------------------- warnings and --strict


def test_strict_turns_warnings_into_failure_and_writes_nothing(tmp_path: Path) -> None:
    out = tmp_path / "out"
    result = build("inmemory:app", out, "--strict")
    assert result.exit_code == 1
    assert_no_traceback(result)
    lines = stderr_lines(result)
    assert lines[-1] == "Build stopped: 4 warning(s) (--strict); nothing was written."
    assert len([line for line in lines if line.startswith("warning: ")]) == 4
    assert all(line.startswith(("warning: ", "info: ")) for line in lines[:-1])
    assert not out.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["cwd"]


def test_strict_does_not_replace_a_previous_build(tmp_path: Path) -> None:
    out = tmp_path / "out"
    assert build("minimal:app", out).exit_code == 0
    before = snapshot(out)
    assert build("inmemory:app", out, "--strict").exit_code == 1
    assert snapshot(out) == before


def test_warnings_without_strict_build_and_are_shown(tmp_path: Path) -> None:
    out = tmp_path / "out"
    result = build("inmemory:app", out)
    assert result.exit_code == 0, result.output
    assert (
        "warning: GET /users/{user_id}: uses in-memory `users_db` from inmemory; it is not "
        "shared between functions — keep state in a database"
    ) in stderr_lines(result)
    assert (out / "manifest.json").is_file()


def test_strict_routes_fails_on_warnings() -> None:
    result = routes("inmemory:app", "--strict")
    assert result.exit_code == 1
    assert "warning: GET /events: uses in-memory `events`" in result.stderr


def test_routes_without_strict_succeeds_with_warnings() -> None:
    result = routes("inmemory:app")
    assert result.exit_code == 0
    assert "warning: GET /events" in result.stderr


# ---------------------------------------------------------------- routes


def test_routes_prints_a_table_of_functions() -> None:
    result = routes("minimal:app")
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith("minimal:app: 4 functions")
    for name in ("get_hello", "get_hello_name", "docs", "fallback"):
        assert f"│ {name} " in result.stdout
    assert "/hello/{name}" in result.stdout
    assert "(no route matched)" in result.stdout
    # One module holds the app and its endpoints: nothing can be slim, said once.
    assert stderr_lines(result) == [
        "info: GET /hello, GET /hello/{name}: full mode, not slim: its endpoint is defined in "
        "minimal, the module that assembles the app; move it to another module so that a "
        "function can import it without building every route"
    ]


@pytest.mark.parametrize("app_ref", ["minimal:app", "nasty:app", "mounts:app"])
def test_routes_json_is_the_manifest(app_ref: str) -> None:
    result = routes(app_ref, "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout) == manifest_data(plan_for(app_ref))


def test_routes_json_keeps_diagnostics_off_stderr() -> None:
    result = routes("inmemory:app", "--json")
    assert result.exit_code == 0
    assert result.stderr == ""
    diagnostics = json.loads(result.stdout)["diagnostics"]
    assert len([d for d in diagnostics if d["level"] == "warning"]) == 4


def test_routes_no_docs_and_no_fallback() -> None:
    data = json.loads(routes("minimal:app", "--json", "--no-docs", "--no-fallback").stdout)
    assert [fn["name"] for fn in data["functions"]] == ["get_hello", "get_hello_name"]


# ---------------------------------------------------------------- build


def test_build_writes_deploy_files_and_a_handler_per_function(tmp_path: Path) -> None:
    out = tmp_path / "out"
    result = build("minimal:app", out)
    assert result.exit_code == 0, result.output
    for name in ("manifest.json", "serverless.yml", "template.yaml"):
        assert (out / name).is_file()
    manifest = json.loads((out / "manifest.json").read_text())
    names = [fn["name"] for fn in manifest["functions"]]
    assert names == ["get_hello", "get_hello_name", "docs", "fallback"]
    for fn in manifest["functions"]:
        folder = out / fn["folder"]
        assert (folder / "handler.py").is_file()
        assert sorted(p.name for p in folder.iterdir()) == sorted(fn["files"])
    assert sorted(p.name for p in (out / "functions").iterdir()) == sorted(names)
    assert stderr_lines(result)[-1] == f"Built 4 functions into {out}/"
    assert "get_hello_name" in result.stdout


def test_a_big_builds_table_laid_out_on_another_core_prints_the_same(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    here = build("routers_tree:app", tmp_path / "here")
    monkeypatch.setattr(cli, "BACKGROUND_TABLE", 1)
    started = record_backgrounds(monkeypatch, cli)
    forked = build("routers_tree:app", tmp_path / "forked")
    assert forked.exit_code == here.exit_code == 0, forked.output
    assert forked.stdout == here.stdout
    assert forked.stdout.startswith("Functions")
    assert len(started) == 1
    if sys.platform == "linux":  # the child really laid it out
        assert started[0][1] != 0


def test_a_failed_write_stops_the_table_child(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def full_disk(*args: Any, **kwargs: Any) -> None:
        raise BuildError("cannot write --out out: No space left on device; choose another --out")

    monkeypatch.setattr(cli, "BACKGROUND_TABLE", 1)
    started = record_backgrounds(monkeypatch, cli)
    monkeypatch.setattr(cli, "write_build", full_disk)
    result = build("minimal:app", tmp_path / "out")
    assert result.exit_code == 1
    assert "No space left on device" in result.stderr
    assert "Functions" not in result.stdout
    ((table, pid),) = started
    assert table._pid == 0  # cancelled
    if pid:
        with pytest.raises(ChildProcessError):
            os.waitpid(pid, os.WNOHANG)  # and reaped


def test_the_probe_started_ahead_is_stopped_when_the_app_does_not_import(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    started: list[subprocess.Popen[str]] = []
    real_start = proof_io._start

    @contextmanager
    def recorded(*args: Any) -> Iterator[subprocess.Popen[str]]:
        with real_start(*args) as process:
            started.append(process)
            yield process

    monkeypatch.setattr(proof_io, "_start", recorded)
    result = build("bad_import:app", tmp_path / "out")
    assert result.exit_code == 1
    assert "DATABASE_URL is not set" in result.stderr
    if hasattr(os, "fork"):
        (process,) = started
        assert process.returncode is not None  # stopped and reaped


@pytest.mark.parametrize(("app_ref", "exit_code"), [("minimal:app", 0), ("bad_import:app", 1)])
def test_no_garbage_collection_while_the_app_is_imported_and_described(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, app_ref: str, exit_code: int
) -> None:
    """The command-line process (which freezes its heap) pauses the collector for the
    app's import and description only, and freezes what they made before enabling it
    again (else its first pass walks all of it), even when they failed."""
    seen: list[bool] = []
    frozen: list[bool] = []  # whether the collector ran when the heap was frozen
    real_load = cli.load_app_spec

    def load(*args: Any, **kwargs: Any) -> Any:
        seen.append(gc.isenabled())
        return real_load(*args, **kwargs)

    monkeypatch.setattr(cli, "load_app_spec", load)
    monkeypatch.setattr(cli, "_FREEZE", True)
    # Recorded, not done: the test process goes on.
    monkeypatch.setattr(gc, "freeze", lambda: frozen.append(gc.isenabled()))
    assert gc.isenabled()
    result = build(app_ref, tmp_path / "out")
    assert result.exit_code == exit_code, result.output
    assert seen == [False]
    assert frozen == [True, False]  # before the app's import, then after it
    assert gc.isenabled()


def test_build_json_prints_the_manifest(tmp_path: Path) -> None:
    out = tmp_path / "out"
    result = build("minimal:app", out, "--json")
    assert result.exit_code == 0
    assert json.loads(result.stdout) == json.loads((out / "manifest.json").read_text())
    assert result.stderr == ""


def test_build_flags_reach_the_manifest(tmp_path: Path) -> None:
    out = tmp_path / "out"
    result = build(
        "minimal:app",
        out,
        "--memory",
        "256",
        "--timeout",
        "10",
        "--architecture",
        "arm64",
        "--runtime",
        "python3.13",
        "--stage",
        "prod",
        "--region",
        "eu-west-1",
        "--service",
        "hello-svc",
    )
    assert result.exit_code == 0, result.output
    manifest = json.loads((out / "manifest.json").read_text())
    assert (manifest["service"], manifest["stage"], manifest["region"]) == (
        "hello-svc",
        "prod",
        "eu-west-1",
    )
    assert manifest["runtime"] == "python3.13"
    settings = manifest["functions"][0]["settings"]
    assert (settings["memory"], settings["timeout"], settings["architecture"]) == (
        256,
        10,
        "arm64",
    )


def test_no_docs_and_no_fallback_build(tmp_path: Path) -> None:
    out = tmp_path / "out"
    assert build("minimal:app", out, "--no-docs", "--no-fallback").exit_code == 0
    assert sorted(p.name for p in (out / "functions").iterdir()) == ["get_hello", "get_hello_name"]
    manifest = json.loads((out / "manifest.json").read_text())
    assert [fn["kind"] for fn in manifest["functions"]] == ["route", "route"]


def test_second_build_replaces_the_first(tmp_path: Path) -> None:
    out = tmp_path / "out"
    assert build("minimal:app", out).exit_code == 0
    assert (out / "functions" / "docs").is_dir()
    result = build("minimal:app", out, "--no-docs")
    assert result.exit_code == 0, result.output
    assert not (out / "functions" / "docs").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["cwd", "out"]


def test_second_build_of_another_app_replaces_the_first(tmp_path: Path) -> None:
    out = tmp_path / "out"
    assert build("minimal:app", out).exit_code == 0
    assert build("settings:app", out).exit_code == 0
    assert json.loads((out / "manifest.json").read_text())["app"] == "settings:app"
    assert not (out / "functions" / "get_hello").exists()


def test_default_out_is_build_in_the_working_folder() -> None:
    result = run("build", "minimal:app", "--app-dir", APPS)
    assert result.exit_code == 0, result.output
    assert Path("build", "manifest.json").is_file()


# ---------------------------------------------------------------- pyproject


def test_app_from_pyproject_when_app_is_omitted(tmp_path: Path) -> None:
    project = tmp_path / "project"
    project.mkdir()
    (project / "pyproject.toml").write_text('[tool.fastsplit]\napp = "minimal:app"\n')
    out = tmp_path / "out"
    result = run("build", "--project", project, "--app-dir", APPS, "--out", out)
    assert result.exit_code == 0, result.output
    assert json.loads((out / "manifest.json").read_text())["app"] == "minimal:app"


def test_app_argument_wins_over_pyproject(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text('[tool.fastsplit]\napp = "no_such_module:app"\n')
    result = run("routes", "settings:app", "--project", tmp_path, "--app-dir", APPS, "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["app"] == "settings:app"


def test_flags_win_over_pyproject_settings(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text(
        '[tool.fastsplit]\napp = "minimal:app"\nmemory = 1024\nstage = "qa"\n'
    )
    out = tmp_path / "out"
    result = run("build", "--project", tmp_path, "--app-dir", APPS, "--out", out, "--memory", "256")
    assert result.exit_code == 0, result.output
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["stage"] == "qa"
    assert {fn["settings"]["memory"] for fn in manifest["functions"]} == {256}


def test_pyproject_route_globs_apply(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text(
        '[tool.fastsplit]\napp = "minimal:app"\n\n'
        '[tool.fastsplit.routes."/hello/*"]\nmemory = 2048\n'
    )
    result = run("routes", "--project", tmp_path, "--app-dir", APPS, "--json")
    assert result.exit_code == 0, result.output
    memory = {fn["name"]: fn["settings"]["memory"] for fn in json.loads(result.stdout)["functions"]}
    assert memory["get_hello_name"] == 2048
    assert memory["get_hello"] == 512


def test_invalid_pyproject_is_one_line(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text("[tool.fastsplit\n")
    line = assert_one_error_line(run("routes", "--project", tmp_path))
    assert "invalid TOML" in line


def test_pyproject_config_matches_the_library(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text(
        '[tool.fastsplit]\napp = "minimal:app"\ndocs = false\n'
    )
    result = run("routes", "--project", tmp_path, "--app-dir", APPS, "--json")
    expected = manifest_data(plan_for("minimal:app", config=Config(docs=False)))
    assert json.loads(result.stdout) == expected


# ---------------------------------------------------------------- version and help


def test_version() -> None:
    result = run("--version")
    assert result.exit_code == 0
    assert result.stdout == f"fastsplit {__version__}\n"


def test_help_lists_the_commands() -> None:
    result = run("--help")
    assert result.exit_code == 0
    assert "routes" in result.stdout
    assert "build" in result.stdout


def test_python_dash_m_fastsplit_help(tmp_path: Path) -> None:
    env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1", "NO_COLOR": "1", "COLUMNS": "120"}
    completed = subprocess.run(
        [sys.executable, "-m", "fastsplit", "--help"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert completed.returncode == 0, completed.stderr
    assert "Split a FastAPI app into per-route serverless functions." in completed.stdout
    assert "build" in completed.stdout
    assert "routes" in completed.stdout
    assert "Traceback" not in completed.stderr
