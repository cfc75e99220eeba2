"""The Vercel target: the project fastsplit writes into build/vercel/, proven with Vercel's
own tools.

- Golden trees of build/vercel/ (tests/golden_vercel/; `python -m tests.golden_vercel.regen`
  rewrites them) for example_app and the fixture apps; the generated Python compiles,
  passes ruff and is formatted.
- Routing: every FastAPI path becomes a vercel.json route with Starlette's own pattern;
  paths Vercel cannot route are diagnostics naming the route; the runtime wrapper.
- With the real tools (`make vercel-tools`, everything under `unshare --net`):
  `vercel build` builds example_app's project, its config.json routes every route to the
  right function, and every function, called as Vercel's Python runtime calls it
  (python3.12, ``vc__handler__python.vc_handler`` in its standalone ``.func``), answers
  like the monolith through TestClient; vercel.json passes the schemas and route
  compiler of @vercel/routing-utils and @vercel/build-utils.
"""

from __future__ import annotations

import asyncio
import importlib
import json
import re
import subprocess
import sys
import textwrap
from collections.abc import Callable, Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from starlette.routing import compile_path
from typer.testing import CliRunner

from fastsplit.cli import app as cli
from fastsplit.config import Config
from fastsplit.generator import render_build, with_target_diagnostics
from fastsplit.model import BuildPlan, Route
from fastsplit.packager import vercel_output
from fastsplit.packager.deps import PackageError
from fastsplit.parser import load_app_spec
from fastsplit.planner import plan_build
from fastsplit.targets import vercel, vercel_paths
from fastsplit.vercel_runtime import VercelFunction
from fastsplit.writer import write_build
from tests.conftest import APPS, REPO, plan_for
from tests.e2e import Case, http_answer
from tests.test_golden import CASES as LAMBDA_CASES
from tests.vercel_support import (
    VercelFunctions,
    check_vercel_json,
    route_request,
    vercel_answer,
    vercel_command,
    vercel_env,
    vercel_request,
)

GOLDEN = Path(__file__).with_name("golden_vercel")
# Vercel functions import the whole app whatever --mode says (see the test of that), so
# the plans here skip the slim proof, which only the Lambda handlers use.
FULL = "full"
EXAMPLE_REQUIREMENTS = ("fastapi>=0.115.0",)

# The fixture apps of the Lambda golden trees, with the same configs.
CASES: dict[str, tuple[str, Path, Config]] = {
    **LAMBDA_CASES,
    "starlette_app": ("starlette_app:app", APPS, Config()),
}


def vercel_plan(name: str) -> BuildPlan:
    app_ref, app_dir, config = CASES[name]
    plan = plan_for(app_ref, app_dir, replace(config, mode=FULL))
    if name == "example_app":
        plan = replace(plan, requirements=EXAMPLE_REQUIREMENTS)
    return with_target_diagnostics(plan, platforms=("vercel",))


def render_case(name: str, *, with_runtime: bool = False) -> dict[str, str]:
    """The generated text of build/vercel/ (the verbatim runtime copy only when asked)."""
    return {
        out.path.removeprefix("vercel/"): out.text
        for out in render_build(vercel_plan(name), platforms=("vercel",))
        if out.text is not None
        and out.path.startswith("vercel/")
        and (with_runtime or out.path != f"vercel/{vercel.RUNTIME_MODULE}")
    }


def expected_case(name: str) -> dict[str, str]:
    root = GOLDEN / name
    return {
        path.relative_to(root).as_posix(): path.read_text(encoding="utf-8")
        for path in sorted(root.rglob("*"))
        if path.is_file()
    }


# --- golden trees and generated code ---------------------------------------------------


@pytest.mark.parametrize("name", sorted(CASES))
def test_vercel_project_matches_golden_tree(name: str) -> None:
    generated = render_case(name)
    expected = expected_case(name)
    assert sorted(generated) == sorted(expected), (
        "file lists differ: run `python -m tests.golden_vercel.regen`"
    )
    for path, text in generated.items():
        assert text == expected[path], f"{name}/{path} differs: run the regen helper"


def test_project_carries_the_runtime_verbatim_and_the_app_files() -> None:
    outputs = render_build(vercel_plan("example_app"), platforms=("vercel",))
    files = {out.path: out for out in outputs}
    assert files[f"vercel/{vercel.RUNTIME_MODULE}"].text == vercel.runtime_source()
    copies = {out.path: out.copy_from for out in outputs if out.copy_from is not None}
    spec = vercel_plan("example_app").spec
    assert copies == {f"vercel/{path}": path for path in spec.source_files}
    assert "example_app/static/pixel.png" in spec.source_files
    # Nothing of Lambda's unless asked for; Lambda's build is unchanged by default.
    assert not any(path.startswith(("functions/", "serverless")) for path in files)
    lambda_only = render_build(vercel_plan("example_app"))
    assert not any(out.path.startswith("vercel/") for out in lambda_only)


@pytest.mark.parametrize("name", sorted(CASES))
def test_generated_python_compiles_lints_and_is_formatted(name: str, tmp_path: Path) -> None:
    python_files = []
    for path, text in render_case(name, with_runtime=True).items():
        if path.endswith(".py"):
            target = tmp_path / path
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(text, encoding="utf-8")
            python_files.append(str(target))
            compile(text, path, "exec")
    ruff = str(Path(sys.executable).with_name("ruff"))
    for command in (
        [ruff, "check", "--isolated", "--no-cache", "--select", "E4,E7,E9,F,W,B"],
        [ruff, "format", "--isolated", "--no-cache", "--check", "--line-length", "100"],
    ):
        result = subprocess.run(
            [*command, *python_files], capture_output=True, text=True, check=False
        )
        assert result.returncode == 0, result.stdout + result.stderr


def test_vercel_project_is_the_same_for_slim_and_full_plans() -> None:
    """Slim functions (the default --mode) are Lambda's: a proven slim plan gives the very
    same Vercel project as a full one."""
    slim = plan_for("example_app.main:app", REPO, prove=True)
    assert any(function.mode == "slim" for function in slim.functions)
    slim = replace(slim, requirements=EXAMPLE_REQUIREMENTS)

    def project(plan: BuildPlan) -> dict[str, str | None]:
        outputs = render_build(plan, platforms=("vercel",))
        return {o.path: o.text or o.copy_from for o in outputs if o.path.startswith("vercel/")}

    assert project(slim) == project(vercel_plan("example_app"))


def test_vercel_json_is_written_with_json_dumps_sorted() -> None:
    text = render_case("example_app")["vercel.json"]
    data = json.loads(text)
    assert text == json.dumps(data, sort_keys=True, indent=2) + "\n"


# --- routing ---------------------------------------------------------------------------


def _entries(name: str) -> dict[str, vercel.Entry]:
    plan = vercel_plan(name)
    return {entry.route.key: entry for entry in vercel.route_table(plan)}


def test_routes_keep_dispatch_order_and_split_paths_by_method() -> None:
    document = json.loads(render_case("example_app")["vercel.json"])
    routes = document["routes"]
    items = [(r["dest"], r.get("methods")) for r in routes if r["src"] == "^/items/[0-9]+$"]
    assert items == [
        ("/api/get_items_item_id", ["GET", "OPTIONS"]),  # OPTIONS: the app has CORS
        ("/api/patch_put_items_item_id", ["PATCH", "PUT"]),
        ("/api/delete_items_item_id", ["DELETE"]),
    ]
    assert routes[-1] == {"src": "^/.*$", "dest": "/api/fallback"}
    assert all(route["caseSensitive"] for route in routes[:-1])
    order = [r["dest"] for r in routes]
    assert order.index("/api/get_users") < order.index("/api/get_root")  # app order
    # Per-function settings are the Lambda target's: x-fastsplit over the route glob's
    # 2048 MB, over the global 256 MB and 10 s.
    settings = json.loads(render_case("settings")["vercel.json"])["functions"]
    assert settings["api/get_report.py"] == {
        "excludeFiles": "api/!(get_report).py",
        "maxDuration": 60,
        "memory": 1024,
    }
    assert settings["api/get_defaults.py"]["memory"] == 256


@pytest.mark.parametrize(
    ("path", "source"),
    [
        ("/users/{user_id}", "^/users/[^/]+$"),
        ("/users/{user_id:int}", "^/users/[0-9]+$"),
        ("/files/{file_path:path}", "^/files/.*$"),
        ("/v/{x:float}", r"^/v/[0-9]+(?:\.[0-9]+)?$"),
        ("/report-{year:int}.csv", r"^/report-[0-9]+\.csv$"),
        ("/it's/{item_id}", "^/it(?:'|%27)s/[^/]+$"),
        ("/café/{name}", "^/caf(?:é|%[Cc]3%[Aa]9)/[^/]+$"),
        ("/discount/50%", "^/discount/50(?:%|%25)$"),
    ],
)
def test_fastapi_paths_become_vercel_route_regexes(path: str, source: str) -> None:
    route = _route(path)
    assert vercel_paths.route_source(route) == (source, "")


def _route(path: str) -> Route:
    regex, path_format, _ = compile_path(path)
    return Route(0, "api", ("GET",), path, path_format, regex.pattern)


@pytest.mark.parametrize(
    "path",
    ["/users/{user_id:int}", "/files/{p:path}", "/v/{x:float}", "/u/{id:uuid}", "/a-b/{x}.json"],
)
def test_vercel_regexes_match_what_starlette_matches(path: str) -> None:
    """Every convertor keeps Starlette's own pattern (taken from the compiled route)."""
    source, _ = vercel_paths.route_source(_route(path))
    assert source is not None
    starlette = compile_path(path)[0]
    ours = re.compile(source)
    samples = [
        "/users/12", "/users/x", "/users/", "/files/a/b.txt", "/files/", "/v/1.5", "/v/1.",
        "/u/0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0", "/u/0F1E2D3C4B5A69788796A5B4C3D2E1F0",
        "/u/xyz", "/a-b/7.json", "/a-b/7xjson", "/a_b/7.json",
    ]  # fmt: skip
    for sample in samples:
        assert bool(ours.match(sample)) == bool(starlette.match(sample)), (path, sample)


BAD_APP = """
from fastapi import FastAPI
from starlette.convertors import Convertor, register_url_convertor


class Slug(Convertor[str]):
    regex = "(?<=/)[a-z]+"  # a lookbehind: JavaScript and PCRE disagree on these

    def convert(self, value: str) -> str:
        return value

    def to_string(self, value: str) -> str:
        return value


class Year(Convertor[int]):
    regex = "[0-9]{4}"

    def convert(self, value: str) -> int:
        return int(value)

    def to_string(self, value: int) -> str:
        return str(value)


register_url_convertor("vercel_slug", Slug())
register_url_convertor("vercel_year", Year())
app = FastAPI()


@app.get("/_vercel/status")
def status() -> dict[str, str]:
    return {"status": "ok"}


@app.get("/posts/{slug:vercel_slug}")
def post(slug: str) -> dict[str, str]:
    return {"slug": slug}


@app.get("/archive/{year:vercel_year}")
def archive(year: int) -> dict[str, int]:
    return {"year": year}


@app.get("/ok")
def ok() -> dict[str, str]:
    return {"ok": "yes"}
"""


@pytest.fixture
def bad_app(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    app_dir = tmp_path / "bad"
    app_dir.mkdir()
    (app_dir / "vercel_bad_paths.py").write_text(textwrap.dedent(BAD_APP))
    monkeypatch.setattr(sys, "dont_write_bytecode", True)
    yield app_dir
    sys.modules.pop("vercel_bad_paths", None)


def test_paths_vercel_cannot_route_are_diagnostics_naming_the_route(bad_app: Path) -> None:
    spec = load_app_spec("vercel_bad_paths:app", app_dir=bad_app)
    plan = plan_build(spec, Config(docs=False, mode=FULL))
    plan = with_target_diagnostics(plan, platforms=("vercel",))
    found = {d.where: d for d in plan.diagnostics if "Vercel" in d.message}
    assert set(found) == {"GET /_vercel/status", "GET /posts/{slug:vercel_slug}"}
    assert all(d.level == "warning" for d in found.values())
    assert "reserves /_vercel/" in found["GET /_vercel/status"].message
    assert "'vercel_slug'" in found["GET /posts/{slug:vercel_slug}"].message
    files = {o.path: o.text for o in render_build(plan, platforms=("vercel",))}
    document = json.loads(files["vercel/vercel.json"] or "")
    # Not routed, and no function for them; a custom convertor Vercel can read is fine.
    assert [(r["src"], r["dest"]) for r in document["routes"]] == [
        ("^/archive/[0-9]{4}$", "/api/get_archive_year"),
        ("^/ok$", "/api/get_ok"),
        ("^/.*$", "/api/fallback"),
    ]
    assert sorted(document["functions"]) == [
        "api/fallback.py",
        "api/get_archive_year.py",
        "api/get_ok.py",
    ]


def test_cli_reports_them_and_strict_fails(bad_app: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    args = ["build", "vercel_bad_paths:app", "--app-dir", str(bad_app), "--out", str(out)]
    result = CliRunner().invoke(cli, [*args, "--target", "vercel"])
    assert result.exit_code == 0, result.output
    assert "warning: GET /_vercel/status: Vercel: Vercel reserves /_vercel/" in result.stderr
    assert "warning: GET /posts/{slug:vercel_slug}: Vercel: the pattern" in result.stderr
    assert (out / "vercel" / "vercel.json").is_file()
    assert not (out / "serverless.yml").exists()
    strict = CliRunner().invoke(cli, [*args, "--target", "vercel", "--strict"])
    assert strict.exit_code == 1
    assert "Build stopped: 2 warning(s) (--strict)" in strict.stderr


@pytest.mark.parametrize(
    "regex",
    ["[a-z]+(?=x)", "(a)\\1", "(?i)abc", "a*+", "\\bword", "[[:alpha:]]+", "a{2", "^a"],
)
def test_non_portable_convertor_regexes_are_refused(regex: str) -> None:
    assert vercel_paths.portable_regex(regex) is None


def test_portable_regexes_keep_their_meaning_without_captures() -> None:
    assert vercel_paths.portable_regex("(foo|bar)[0-9]{2,}?") == "(?:foo|bar)[0-9]{2,}?"
    assert vercel_paths.portable_regex(r"[^/\]]+\.\d") == r"[^/\]]+\.\d"


def test_more_functions_than_vercel_json_takes_share_entries(tmp_path: Path) -> None:
    lines = ["from fastapi import FastAPI", "app = FastAPI()"]
    for number in range(70):
        memory = ', openapi_extra={"x-fastsplit": {"memory": 1024}}' if number % 7 == 0 else ""
        lines.append(f'@app.get("/route{number:02d}/{{x}}"{memory})\ndef r{number}(x: str): pass')
    (tmp_path / "many_routes.py").write_text("\n".join(lines) + "\n")
    try:
        spec = load_app_spec("many_routes:app", app_dir=tmp_path)
    finally:
        sys.modules.pop("many_routes", None)
    plan = plan_build(spec, Config(docs=False, mode=FULL))
    functions = vercel.vercel_functions(plan, vercel.route_table(plan))
    settings = vercel.function_settings(functions)
    assert len(functions) == 71
    assert len(settings) <= vercel.MAX_FUNCTION_ENTRIES
    for pattern, config in settings.items():
        assert len(pattern) <= vercel.MAX_PATTERN
        assert len(config["excludeFiles"]) <= vercel.MAX_PATTERN
    memories = {config["memory"] for config in settings.values()}
    assert memories == {512, 1024}
    # Settings so varied that even shared entries exceed 50: an error, not a bad file.
    varied = replace(
        plan,
        functions=tuple(
            replace(f, settings=replace(f.settings, memory=128 + n))
            for n, f in enumerate(functions)
        ),
    )
    errors = [d for d in vercel.vercel_diagnostics(varied) if d.level == "error"]
    assert len(errors) == 1 and "more than the 50 Vercel takes" in errors[0].message


def many_functions(tmp_path: Path, count: int, memory: Callable[[int], int]) -> BuildPlan:
    """A plan of ``count`` functions with long names, ``memory(n)`` MB for the n-th."""
    lines = ["from fastapi import FastAPI", "app = FastAPI()"]
    for number in range(count):
        path = f"/inventory/warehouses/section{number:04d}/{{item_id}}"
        lines.append(f'@app.get("{path}")\ndef r{number}(item_id: str): pass')
    (tmp_path / "long_names.py").write_text("\n".join(lines) + "\n")
    try:
        spec = load_app_spec("long_names:app", app_dir=tmp_path)
    finally:
        sys.modules.pop("long_names", None)
    plan = plan_build(spec, Config(docs=False, fallback=False, mode=FULL))
    return replace(
        plan,
        functions=tuple(
            replace(f, settings=replace(f.settings, memory=memory(n)))
            for n, f in enumerate(plan.functions)
        ),
    )


def test_functions_with_equal_settings_share_one_entry_however_many(tmp_path: Path) -> None:
    plan = many_functions(tmp_path, 120, lambda n: 512)
    functions = vercel.vercel_functions(plan, vercel.route_table(plan))
    assert len(functions) == 120
    # Every function: no pattern to list them, and no other function's entry to exclude.
    assert vercel.function_settings(functions) == {"api/*.py": {"memory": 512, "maxDuration": 29}}
    assert not [d for d in vercel.vercel_diagnostics(plan) if d.level == "error"]


def test_a_few_functions_apart_get_an_entry_and_the_rest_another(tmp_path: Path) -> None:
    plan = many_functions(tmp_path, 120, lambda n: 1024 if n in (3, 70) else 512)
    functions = vercel.vercel_functions(plan, vercel.route_table(plan))
    settings = vercel.function_settings(functions)
    big = [f.name for n, f in enumerate(functions) if n in (3, 70)]
    others = "api/!(" + "|".join(big) + ").py"
    listed = "api/{" + ",".join(big) + "}.py"
    assert settings == {
        others: {"memory": 512, "maxDuration": 29, "excludeFiles": listed},
        listed: {"memory": 1024, "maxDuration": 29, "excludeFiles": others},
    }
    # Many functions in each of two settings: no short pattern selects either, so the
    # entries are lists, and the excludes are left out when they cannot be written.
    halved = many_functions(tmp_path, 120, lambda n: 512 + 512 * (n % 2))
    halves = vercel.function_settings(vercel.vercel_functions(halved, vercel.route_table(halved)))
    assert 2 < len(halves) <= vercel.MAX_FUNCTION_ENTRIES
    assert all(len(pattern) <= vercel.MAX_PATTERN for pattern in halves)
    assert {config["memory"] for config in halves.values()} == {512, 1024}
    assert all(
        len(config.get("excludeFiles", "")) <= vercel.MAX_PATTERN for config in halves.values()
    )


def test_app_module_named_api_is_an_error(tmp_path: Path) -> None:
    (tmp_path / "api.py").write_text(
        "from fastapi import FastAPI\napp = FastAPI()\n@app.get('/x')\ndef x(): pass\n"
    )
    try:
        spec = load_app_spec("api:app", app_dir=tmp_path)
    finally:
        sys.modules.pop("api", None)
    plan = with_target_diagnostics(plan_build(spec, Config(mode=FULL)), platforms=("vercel",))
    errors = [d for d in plan.diagnostics if d.level == "error"]
    assert errors and "clash with the project's api/ folder" in errors[0].message
    # Lambda alone does not care.
    assert with_target_diagnostics(plan_build(spec, Config(mode=FULL)), platforms=("lambda",)) == (
        plan_build(spec, Config(mode=FULL))
    )


def test_python_versions_vercel_cannot_run_become_312() -> None:
    assert vercel.python_version("python3.13") == "3.13"
    assert vercel.python_version("python3.10") == "3.12"
    assert render_case("settings")[".python-version"] == "3.13\n"


# --- the runtime wrapper, without a server ---------------------------------------------


def _run(coroutine: Any) -> None:
    """Run on a loop of its own: ``asyncio.run`` would also unset this thread's current
    loop (one Mangum made in an earlier test), leaving it to be collected unclosed, a
    ResourceWarning in whichever test the garbage collector happens to run."""
    loop = asyncio.new_event_loop()
    try:
        loop.run_until_complete(coroutine)
    finally:
        loop.close()


def _call(app: Any, scope: dict[str, Any]) -> tuple[int, bytes]:
    """One request through an ASGI app as a bare server would send it."""
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    _run(app(scope, receive, send))
    return sent[0]["status"], b"".join(m.get("body", b"") for m in sent[1:])


def _http_scope(method: str, path: str) -> dict[str, Any]:
    return {
        "type": "http",
        "method": method,
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "headers": [(b"host", b"example.com")],
        "root_path": "",
        "scheme": "https",
        "server": ("example.com", "443"),
    }


def _lifespan_counter_function(name: str, serves: list[tuple[str, tuple[str, ...]]]) -> Any:
    module = importlib.import_module("lifespan_counter")
    return VercelFunction(
        module.app,
        name=name,
        routes=[("/count", ("GET",)), ("/other", ("GET",))],
        serves=serves,
    )


def test_runtime_gives_lifespan_state_when_the_server_keeps_none(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """vercel-runtime's per-invocation handler runs the lifespan without ``state``."""
    monkeypatch.syspath_prepend(str(APPS))
    function = _lifespan_counter_function("get_count", [("/count", ("GET",))])
    messages: list[dict[str, Any]] = [{"type": "lifespan.startup"}]
    replies: list[dict[str, Any]] = []

    async def lifespan() -> None:
        async def receive() -> dict[str, Any]:
            if messages:
                return messages.pop(0)
            await asyncio.sleep(3600)
            raise AssertionError

        async def send(message: dict[str, Any]) -> None:
            replies.append(message)

        task = asyncio.ensure_future(function({"type": "lifespan"}, receive, send))
        while not replies:
            await asyncio.sleep(0.01)
        task.cancel()

    _run(lifespan())
    assert replies[0]["type"] == "lifespan.startup.complete", replies
    status, body = _call(function, _http_scope("GET", "/count"))
    assert (status, json.loads(body)) == (200, {"started": 1})


def test_runtime_serves_only_its_routes_and_decodes_raw_paths(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.syspath_prepend(str(APPS))
    module = importlib.import_module("minimal")
    routes = [("/hello", ("GET",)), ("/hello/{name}", ("GET",))]
    function = VercelFunction(module.app, name="x", routes=routes, serves=[routes[1]])
    status, body = _call(function, _http_scope("GET", "/hello/w%C3%B6rld"))
    assert (status, json.loads(body)) == (200, {"message": "hello wörld"})
    assert _call(function, _http_scope("GET", "/hello")) == (404, b'{"detail":"Not Found"}')
    # Requests no route takes: the app's own answer (here its 405 and 404).
    assert _call(function, _http_scope("POST", "/hello/x"))[0] == 405
    assert _call(function, _http_scope("GET", "/nope"))[0] == 404


def test_runtime_keeps_the_servers_state_and_decoded_path() -> None:
    seen: list[dict[str, Any]] = []

    async def app(scope: Any, receive: Any, send: Any) -> None:
        seen.append(scope)
        await send({"type": "http.response.start", "status": 204, "headers": []})
        await send({"type": "http.response.body", "body": b""})

    function = VercelFunction(app, name="x", routes=[], serves=[])
    scope = {**_http_scope("GET", "/a%2Fb"), "raw_path": b"/a%252Fb", "state": {"k": 1}}
    _call(function, scope)
    assert seen[0]["path"] == "/a%2Fb" and seen[0]["state"] == {"k": 1}


def test_cli_target_selects_what_is_written(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sys, "dont_write_bytecode", True)
    base = ["build", "minimal:app", "--app-dir", str(APPS), "--project", str(tmp_path)]
    for target, present, absent in (
        ("all", ["serverless.yml", "vercel/vercel.json"], []),
        ("lambda", ["serverless.yml", "functions"], ["vercel"]),
        ("vercel", ["vercel/api/get_hello.py"], ["serverless.yml", "functions"]),
    ):
        out = tmp_path / target
        args = [*base, "--out", str(out)] + (["--target", target] if target != "all" else [])
        result = CliRunner().invoke(cli, args)
        assert result.exit_code == 0, result.output
        assert all((out / path).exists() for path in present), target
        assert not any((out / path).exists() for path in absent), target
    # With no requirements file, the functions get the FastAPI the app was split with.
    requirements = (tmp_path / "all" / "vercel" / "requirements.txt").read_text()
    assert re.search(r"^fastapi==\d", requirements, re.MULTILINE), requirements
    bad = CliRunner().invoke(cli, [*base, "--out", str(tmp_path / "x"), "--target", "aws"])
    assert bad.exit_code == 1 and "--target 'aws' is not supported" in bad.stderr


def test_requirements_are_read_like_the_lambda_packager_reads_them(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text('[project]\ndependencies = ["fastapi>=0.120"]\n')
    assert vercel_output.project_requirements(requirements_file=None, project_dir=tmp_path) == (
        "fastapi>=0.120",
    )
    (tmp_path / "requirements.txt").write_text("# pins\nfastapi==0.165.0  # web\nhttpx\n")
    assert vercel_output.project_requirements(requirements_file=None, project_dir=tmp_path) == (
        "fastapi==0.165.0",
        "httpx",
    )
    with pytest.raises(PackageError, match="does not exist"):
        vercel_output.project_requirements(
            requirements_file=tmp_path / "nope.txt", project_dir=tmp_path
        )


def test_package_errors_are_one_line_with_the_fix(tmp_path: Path) -> None:
    options = vercel_output.Options(project=tmp_path / "nope", out=tmp_path / "dist")
    with pytest.raises(PackageError, match="run `fastsplit build --target vercel`"):
        vercel_output.package(options)
    project = tmp_path / "build" / "vercel"
    project.mkdir(parents=True)
    (project / "vercel.json").write_text("{}")
    missing = replace(options, project=project, vercel=(str(tmp_path / "no-vercel"),))
    with pytest.raises(PackageError, match="cannot run the Vercel CLI"):
        vercel_output.package(missing)
    failing = replace(options, project=project, vercel=("sh", "-c", "echo broken; exit 3", "x"))
    with pytest.raises(PackageError, match=r"failed \(exit 3\):\nbroken"):
        vercel_output.package(failing)
    assert not (tmp_path / "dist").exists()  # nothing half-written
    assert [p.name for p in tmp_path.iterdir()] == ["build"]


# --- the real tools: vercel build, Vercel's Python runtime, Vercel's schemas -------------

KEY = (("x-api-key", "secret"),)
BROWSER = (("origin", "https://app.example.com"),)
PREFLIGHT = (*BROWSER, ("access-control-request-method", "POST"))
LOGIN = Case("POST", "/auth/login")
HOST = "fastsplit-demo.vercel.app"
SESSION_ME = "session_me"

# Every route of example_app with the function vercel.json must send it to, and requests
# no route takes (the fallback). Cookies, binary bodies (png), redirects, the custom
# exception handler (ItemNotFound) and lifespan state (every database route) included.
ROUTED: list[tuple[Case, str]] = [
    (Case("GET", "/"), "get_root"),
    (Case("GET", "/health"), "get_health"),
    (Case("GET", "/favicon.ico"), "get_favicon_ico"),
    (Case("GET", "/static/hello.txt"), "mount_static"),
    (Case("GET", "/static/pixel.png"), "mount_static"),
    (Case("GET", "/static/missing.txt"), "mount_static"),
    (Case("GET", "/users", headers=KEY), "get_users"),
    (Case("GET", "/users", query=(("limit", "2"), ("offset", "1")), headers=KEY), "get_users"),
    (Case("GET", "/users"), "get_users"),
    (
        Case("POST", "/users", headers=KEY).json(
            {"name": "dave", "email": "dave@example.com", "password": "dave-password"}
        ),
        "post_users",
    ),
    (Case("POST", "/users", headers=KEY).json({"name": "x"}), "post_users"),
    (Case("GET", "/users/1", headers=KEY), "get_users_user_id"),
    (Case("GET", "/users/4", headers=KEY), "get_users_user_id"),
    (Case("GET", "/users/999", headers=KEY), "get_users_user_id"),
    (Case("GET", "/users/1/avatar", headers=KEY), "get_users_user_id_avatar"),
    (Case("DELETE", "/users/3", headers=KEY), "delete_users_user_id"),
    (Case("GET", "/items", query=(("q", "g"), ("max_price", "50"))), "get_items"),
    (Case("GET", "/items/1"), "get_items_item_id"),
    (Case("GET", "/items/999"), "get_items_item_id"),
    (Case("PUT", "/items/1", headers=KEY).json({"name": "W2"}), "patch_put_items_item_id"),
    (Case("PATCH", "/items/1", headers=KEY).json({"price": 12}), "patch_put_items_item_id"),
    (Case("PATCH", "/items/999", headers=KEY).json({"price": 1}), "patch_put_items_item_id"),
    (Case("DELETE", "/items/2", headers=KEY), "delete_items_item_id"),
    (
        Case("POST", "/items", headers=KEY).json({"name": "T", "price": 1.5, "owner_id": 1}),
        "post_items",
    ),
    (Case("GET", "/files"), "get_files"),
    (Case("GET", "/files/readme.txt"), "get_files_file_path"),
    (Case("GET", "/files/docs/guide/intro.md"), "get_files_file_path"),
    (Case("GET", "/files/docs%2Fguide/intro.md"), "get_files_file_path"),
    (Case("GET", "/files/nope/nothing.txt"), "get_files_file_path"),
    (LOGIN.json({"username": "alice", "password": "alice-password"}), "post_auth_login"),
    (LOGIN.json({"username": "alice", "password": "wrong"}), "post_auth_login"),
    (
        Case("GET", "/auth/me", headers=(("cookie", "session=1.bad; username=alice"),)),
        "get_auth_me",
    ),
    (Case("GET", "/auth/me", headers=(("cookie", SESSION_ME),)), "get_auth_me"),
    (Case("GET", "/openapi.json"), "docs"),
    (Case("GET", "/docs"), "docs"),
    (Case("HEAD", "/docs"), "docs"),
    (Case("OPTIONS", "/items", headers=PREFLIGHT), "get_items"),
    (Case("GET", "/items/1", headers=BROWSER), "get_items_item_id"),
    # No route takes these: the fallback, which is the whole app, answers them.
    (Case("GET", "/nope"), "fallback"),
    (Case("POST", "/items/5"), "fallback"),
    (Case("HEAD", "/users/1", headers=KEY), "fallback"),
    (Case("GET", "/users/", headers=KEY), "fallback"),
    (Case("GET", "/static"), "fallback"),
    (Case("GET", "/Users", headers=KEY), "fallback"),
    (Case("GET", "/items/abc"), "fallback"),
    (Case("GET", "/api/get_users"), "fallback"),
    (Case("OPTIONS", "/nope", headers=PREFLIGHT), "fallback"),
]


@pytest.fixture(scope="module")
def vercel_dist(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """example_app's Vercel project, built by the real `vercel build` (offline) into a
    Build Output tree: what `fastsplit package --target vercel` makes."""
    root = tmp_path_factory.mktemp("vercel")
    plan = replace(
        plan_for("example_app.main:app", REPO, Config(mode=FULL)),
        requirements=EXAMPLE_REQUIREMENTS,
    )
    write_build(render_build(plan, platforms=("vercel",)), out=root / "build", app_dir=REPO)
    options = vercel_output.Options(
        project=root / "build" / "vercel",
        out=root / "dist",
        vercel=vercel_command(),
        env=vercel_env(root),
        timeout=300,
    )
    vercel_output.package(options)
    yield root


@pytest.mark.tools
@pytest.mark.xdist_group("vercel")
def test_vercel_build_routes_every_route_to_its_function(vercel_dist: Path) -> None:
    output = vercel_dist / "dist" / ".vercel" / "output"
    config = json.loads((output / "config.json").read_text())
    assert config["version"] == 3
    wrong = []
    for case, expected in ROUTED:
        route = route_request(config, case.method, case.path)
        dest = route["dest"] if route else None
        if dest != f"/api/{expected}":
            wrong.append(f"{case.label}: {dest} (expected /api/{expected})")
    assert not wrong, "\n".join(wrong)
    plan = plan_for("example_app.main:app", REPO, Config(mode=FULL))
    functions = {f.name: f for f in plan.functions}
    assert {name for _, name in ROUTED} == set(functions)
    for name, function in functions.items():
        func = output / "functions" / "api" / f"{name}.func"
        vc_config = json.loads((func / ".vc-config.json").read_text())
        assert vc_config["runtime"] == "python3.12"
        assert vc_config["handler"] == "vc__handler__python.vc_handler"
        assert (vc_config["memory"], vc_config["maxDuration"]) == (
            function.settings.memory,
            function.settings.timeout,
        )
        assert "filePathMap" not in vc_config  # standalone: everything is inside
        # excludeFiles: each function carries its own entry point only.
        assert sorted(p.name for p in (func / "api").iterdir()) == [f"{name}.py"]
        assert (func / "_vendor" / "vercel_runtime" / "vc_init.py").is_file()
        assert (func / "example_app" / "static" / "pixel.png").is_file()
    # The static output holds only the placeholder: the app's code is never published.
    static = sorted(
        p.relative_to(output / "static").as_posix() for p in (output / "static").rglob("*")
    )
    assert static == [".fastsplit"]
    manifest = json.loads((vercel_dist / "dist" / "manifest.json").read_text())
    assert len(manifest["functions"]) == len(functions)


def _session_cookie() -> str:
    from example_app.routers.auth import sign

    return f"session={sign('dev-secret-key', 1)}; username=alice"


def _with_session(case: Case) -> Case:
    headers = tuple(
        (name, _session_cookie() if value == SESSION_ME else value) for name, value in case.headers
    )
    return replace(case, headers=headers)


@pytest.mark.tools
@pytest.mark.xdist_group("vercel")
def test_every_function_answers_like_the_monolith(
    vercel_dist: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    env = vercel_env(tmp_path)
    env["EXAMPLE_APP_DB"] = str(tmp_path / "split.sqlite3")
    monkeypatch.setenv("EXAMPLE_APP_DB", str(tmp_path / "monolith.sqlite3"))
    names = sorted({name for _, name in ROUTED})
    functions_dir = vercel_dist / "dist" / ".vercel" / "output" / "functions" / "api"
    functions = VercelFunctions(functions_dir, names, env)
    module = importlib.import_module("example_app.main")
    base = (("host", HOST), ("x-forwarded-proto", "https"), ("x-forwarded-for", "198.51.100.7"))
    mismatches = []
    try:
        with TestClient(
            module.app, base_url=f"https://{HOST}", raise_server_exceptions=False
        ) as client:
            for raw_case, name in ROUTED:
                case = _with_session(raw_case)
                request = vercel_request(
                    case.method,
                    case.path,
                    query=case.query,
                    headers=(*base, *case.headers),
                    body=case.body,
                )
                got = vercel_answer(functions.invoke(name, request)).for_format(
                    "vercel", case.method
                )
                monolith = client.request(
                    case.method,
                    case.path,
                    params=list(case.query),
                    headers=list(case.headers),
                    content=case.body or None,
                    follow_redirects=False,
                )
                expected = http_answer(monolith).for_format("vercel", case.method)
                if got != expected:
                    mismatches.append(
                        f"{case.label} via {name}:\n  vercel   {got}\n  monolith {expected}"
                    )
            # A function reached with another function's request (its /api/ path with no
            # fallback, say) serves only its own routes.
            other = vercel_answer(functions.invoke("get_users", vercel_request("GET", "/items/1")))
            assert (other.status, other.body) == (404, b'{"detail":"Not Found"}')
    finally:
        functions.close()
    assert not mismatches, "\n".join(mismatches)


@pytest.mark.tools
@pytest.mark.xdist_group("vercel-schema")
def test_vercel_json_passes_vercels_schemas_and_route_compiler(
    bad_app: Path, tmp_path: Path
) -> None:
    many = tmp_path / "many"
    many.mkdir()
    # Over 50 functions, two settings: an entry for the three with more memory, one for
    # all the others.
    memory = ', openapi_extra={"x-fastsplit": {"memory": 1024}}'
    (many / "many_functions.py").write_text(
        "from fastapi import FastAPI\napp = FastAPI()\n"
        + "".join(
            f'@app.get("/r{n}/{{x}}"{memory if n % 20 == 0 else ""})\ndef r{n}(x: str): pass\n'
            for n in range(60)
        )
    )
    apps = {
        "example_app": ("example_app.main:app", REPO),
        "nasty": ("nasty:app", APPS),
        "bad_paths": ("vercel_bad_paths:app", bad_app),
        "many": ("many_functions:app", many),
    }
    files = []
    for name, (app_ref, app_dir) in apps.items():
        try:
            plan = plan_build(load_app_spec(app_ref, app_dir=app_dir), Config(mode=FULL))
        finally:
            sys.modules.pop("many_functions", None)
        out = tmp_path / "builds" / name
        write_build(render_build(plan, platforms=("vercel",)), out=out, app_dir=app_dir)
        files.append(out / "vercel" / "vercel.json")
    broken = tmp_path / "broken" / "vercel.json"
    broken.parent.mkdir()
    broken.write_text(json.dumps({"routes": [{"src": "^/(x$", "methods": "GET"}], "functions": {}}))
    results = check_vercel_json(*files, broken)
    for file in files:
        result = results[file.as_posix()]
        assert result["errors"] == [], (file, result["errors"])
        matches = result["functions"]
        for entry_point, match in matches.items():
            # Each function leaves out every other entry point but those sharing its
            # `functions` pattern (only beyond vercel.json's 50 patterns).
            group = {other for other, m in matches.items() if m["pattern"] == match["pattern"]}
            assert set(match["excluded"]) == set(matches) - group, entry_point
    many_functions = results[files[-1].as_posix()]["functions"]
    assert len(many_functions) == 62  # 60 routes, docs, fallback
    assert len({match["pattern"] for match in many_functions.values()}) == 2
    # The check can fail: a wrong type, an empty `functions`, a regex that does not compile.
    errors = "\n".join(results[broken.as_posix()]["errors"])
    assert "/routes/0/methods must be array" in errors
    assert "/functions must NOT have fewer than 1 items" in errors
    assert "invalid `src`/`source` regular expression" in errors


@pytest.mark.tools
@pytest.mark.xdist_group("vercel-schema")
def test_vercel_build_accepts_a_project_with_paths_it_cannot_route(
    bad_app: Path, tmp_path: Path
) -> None:
    plan = plan_build(
        load_app_spec("vercel_bad_paths:app", app_dir=bad_app), Config(docs=False, mode=FULL)
    )
    write_build(render_build(plan, platforms=("vercel",)), out=tmp_path / "build", app_dir=bad_app)
    options = vercel_output.Options(
        project=tmp_path / "build" / "vercel",
        out=tmp_path / "dist",
        vercel=vercel_command(),
        env=vercel_env(tmp_path),
        timeout=300,
    )
    result = vercel_output.package(options)
    assert result.functions == ("api/fallback.func", "api/get_archive_year.func", "api/get_ok.func")
    config = json.loads((result.output / "config.json").read_text())
    for path, function in (
        ("/archive/2024", "get_archive_year"),
        ("/ok", "get_ok"),
        ("/_vercel/status", "fallback"),
        ("/posts/hello", "fallback"),
    ):
        route = route_request(config, "GET", path)
        assert route is not None and route["dest"] == f"/api/{function}", path
