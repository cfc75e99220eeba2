"""Slim functions: each imports and ships only what its route needs, proven equivalent.

On tests/apps/slimapp (light routes and one heavy route importing numpy): a light
function's handler never imports numpy and its zip holds no numpy file, the heavy one
works; fallbacks to full mode say why; ``explain`` names the import chains; the proof
refuses a rebuilt app that differs from the monolith.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import zipfile
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from fastsplit.cli import app as cli
from fastsplit.config import Config
from fastsplit.model import Ref, Seq
from fastsplit.packager.requirements import requirement_closure, requirement_name
from fastsplit.packager.slim import InstalledSet
from fastsplit.prove import prove_plan
from tests.conftest import APPS, REPO, build_to, plan_for
from tests.e2e import SplitApp, lambda_answer

LIGHT = ("get_light_ping", "get_light_greeting", "post_light_echo", "get_light_items_item_id")
HEAVY = "get_heavy_stats"
RUNNER = REPO / "tests" / "lambda_runner.py"


@pytest.fixture(scope="module")
def slim_build(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_to(tmp_path_factory.mktemp("slimapp") / "build", "slimapp.main:app")


def manifest(build: Path) -> dict[str, dict[str, Any]]:
    data = json.loads((build / "manifest.json").read_text())
    return {function["name"]: function for function in data["functions"]}


def imported_modules(function_dir: Path) -> set[str]:
    """What importing the handler loads, in a fresh interpreter with only the function
    folder and the installed packages (as in Lambda)."""
    code = "import json, sys; import handler; print(json.dumps(sorted(sys.modules)))"
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    result = subprocess.run(
        [sys.executable, "-c", code],
        cwd=function_dir,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    return set(json.loads(result.stdout))


def http_event(method: str, path: str, query: str = "", body: str = "") -> dict[str, Any]:
    """A minimal API Gateway HTTP API (payload 2.0) event, as Mangum reads it."""
    return {
        "version": "2.0",
        "routeKey": "$default",
        "rawPath": path,
        "rawQueryString": query,
        "headers": {"host": "api.example.com", "content-type": "application/json"},
        "requestContext": {
            "http": {"method": method, "path": path, "protocol": "HTTP/1.1", "sourceIp": "1.2.3.4"},
            "routeKey": "$default",
            "stage": "$default",
        },
        "body": body,
        "isBase64Encoded": False,
    }


# ---------------------------------------------------------------- 1. heavy vs light


def test_light_and_heavy_routes_get_slim_functions(slim_build: Path) -> None:
    functions = manifest(slim_build)
    assert {name: functions[name]["mode"] for name in (*LIGHT, HEAVY)} == dict.fromkeys(
        (*LIGHT, HEAVY), "slim"
    )
    assert functions["docs"]["mode"] == "full"
    # slimapp has middleware: its fallback imports the whole app to answer through it.
    assert functions["fallback"]["mode"] == "full"


def test_a_light_handler_never_imports_numpy(slim_build: Path) -> None:
    for name in LIGHT:
        modules = imported_modules(slim_build / "functions" / name)
        assert "fastapi" in modules
        assert not {m for m in modules if m == "numpy" or m.startswith("numpy.")}, name
        # Nor the module that assembles the app, nor the heavy route's.
        assert not {"slimapp.main", "slimapp.heavy"} & modules, name
    assert "numpy" in imported_modules(slim_build / "functions" / HEAVY)


def test_a_light_function_carries_only_the_modules_it_imports(slim_build: Path) -> None:
    functions = manifest(slim_build)
    light = [f for f in functions["get_light_ping"]["files"] if f.startswith("slimapp/")]
    # slimapp/data/greeting.txt: data files of an imported package come along.
    assert light == [
        "slimapp/__init__.py",
        "slimapp/data/greeting.txt",
        "slimapp/hooks.py",
        "slimapp/light.py",
    ]
    assert "slimapp/heavy.py" in functions[HEAVY]["files"]
    assert "slimapp/light.py" not in functions[HEAVY]["files"]
    on_disk = sorted(
        p.relative_to(slim_build / "functions" / "get_light_ping").as_posix()
        for p in (slim_build / "functions" / "get_light_ping").rglob("*")
        if p.is_file()
    )
    assert on_disk == sorted(functions["get_light_ping"]["files"])


def test_the_heavy_function_still_works(slim_build: Path, tmp_path: Path) -> None:
    split = SplitApp(slim_build, env={})
    try:
        event = http_event("GET", "/heavy/stats", "values=1&values=2&values=6")
        answer = lambda_answer(split.invoke(HEAVY, event))
    finally:
        split.close()
    assert answer.status == 200
    assert json.loads(answer.body) == {"mean": 3.0, "max": 6.0}
    assert answer.headers["x-served-by"] == ["slimapp"]  # the app's middleware ran


def test_imports_json_records_why_numpy_is_in_the_heavy_function(slim_build: Path) -> None:
    imports = json.loads((slim_build / "imports.json").read_text())["functions"]
    assert imports[HEAVY]["packages"]["numpy"] == ["handler", "slimapp.heavy", "numpy"]
    assert imports[HEAVY]["distributions"]["numpy"]["packages"] == ["numpy"]
    assert "numpy" not in imports["get_light_ping"]["packages"]
    assert imports["get_light_ping"]["modules"]["slimapp.light"] == ["handler", "slimapp.light"]
    assert set(imports) == {*LIGHT, HEAVY}


# ---------------------------------------------------------------- 2. answers like the monolith


SLIM_CASES = [
    ("GET", "/light/ping", "", ""),
    ("GET", "/light/greeting", "", ""),
    ("POST", "/light/echo", "", '{"text": "ab", "times": 3}'),
    ("POST", "/light/echo", "", '{"times": "x"}'),
    ("GET", "/light/items/7", "", ""),
    ("GET", "/light/items/700", "", ""),
    ("GET", "/heavy/stats", "values=1.5&values=2.5", ""),
    ("GET", "/heavy/stats", "", ""),
]


@pytest.mark.parametrize("app_ref", ["slimapp.main:app", "slimapp.circular:app"])
def test_slim_functions_answer_like_the_monolith(app_ref: str, tmp_path: Path) -> None:
    """Status, headers and body of every case, through each function's own process."""
    import importlib

    from fastapi.testclient import TestClient

    build = build_to(tmp_path / "build", app_ref)
    module = importlib.import_module(app_ref.split(":")[0])
    split = SplitApp(build, env={})
    mismatches = []
    try:
        with TestClient(module.app, raise_server_exceptions=False) as client:
            for method, path, query, body in SLIM_CASES:
                route = split.route_for(method, path)
                if route.function == "fallback":
                    continue  # not this app's route
                got = lambda_answer(
                    split.invoke(route.function, http_event(method, path, query, body))
                )
                response = client.request(
                    method,
                    f"{path}?{query}",
                    content=body or None,
                    headers={"content-type": "application/json"},
                )
                expected = (
                    response.status_code,
                    response.json(),
                    response.headers.get("x-served-by"),
                )
                found = (
                    got.status,
                    json.loads(got.body),
                    (got.headers.get("x-served-by") or [None])[0],
                )
                if found != expected:
                    mismatches.append(f"{method} {path}?{query}: {found} != {expected}")
    finally:
        split.close()
    assert not mismatches, "\n".join(mismatches)


# ---------------------------------------------------------------- 3. fallbacks, with why


def test_a_closure_endpoint_gets_a_full_function_saying_why() -> None:
    plan = plan_for("slimapp.closures:app", prove=True)
    modes = {f.name: f.mode for f in plan.functions}
    assert modes["get_hello_name"] == "full"
    assert {modes[name] for name in LIGHT} == {"slim"}
    reason = (
        "endpoint slimapp.greeters:make_greeter.<locals>.greet is a closure made inside "
        "make_greeter(); only module-level names can be imported by a function"
    )
    assert [(d.level, d.where, d.message) for d in plan.diagnostics] == [
        ("info", "GET /hello/{name}", f"full mode, not slim: {reason}")
    ]


def test_an_import_back_into_the_app_module_gets_a_full_function_saying_why() -> None:
    plan = plan_for("slimapp.circular:app", prove=True)
    modes = {f.name: f.mode for f in plan.functions}
    assert modes["get_prefix"] == "full"
    assert {modes[name] for name in LIGHT} == {"slim"}
    (diagnostic,) = plan.diagnostics
    assert diagnostic.where == "GET /prefix"
    assert diagnostic.message == (
        "full mode, not slim: importing what it needs loads slimapp.circular, the module "
        "that assembles the app (handler → slimapp.backref → slimapp.circular), so it "
        "would build every route; break that import"
    )


def test_a_middleware_option_that_is_not_data_makes_every_function_full() -> None:
    plan = plan_for("slimapp.objects:app", prove=True)
    assert {f.mode for f in plan.functions if f.kind == "route"} == {"full"}
    reason = (
        "middleware TaggingMiddleware option tagger is a Tagger object, which fastsplit "
        "cannot write down (only plain data and importable names)"
    )
    assert all(f.not_slim == reason for f in plan.functions if f.kind == "route")
    said = [d for d in plan.diagnostics if "not slim" in d.message]
    assert [(d.where, d.message) for d in said] == [
        ("slimapp.objects:app", f"full mode, not slim: every function: {reason}")
    ]


def test_a_setting_the_app_module_changes_gets_a_full_function_saying_why() -> None:
    plan = plan_for("slimapp.configured:app", prove=True)
    modes = {f.name: f.mode for f in plan.functions}
    assert modes["get_mode"] == "full"
    assert {modes[name] for name in LIGHT} == {"slim"}  # they do not import the setting
    (diagnostic,) = plan.diagnostics
    assert diagnostic.where == "GET /mode"
    assert diagnostic.message == (
        "full mode, not slim: slimapp.settings.MODE is 'configured' in the monolith but "
        "'default' in a one-route app: building the whole app changes it (set it where it "
        "is defined, or in the lifespan)"
    )


def test_full_fallbacks_still_answer_like_the_monolith(tmp_path: Path) -> None:
    build = build_to(tmp_path / "build", "slimapp.objects:app")
    split = SplitApp(build, env={})
    try:
        answer = lambda_answer(
            split.invoke("get_light_items_item_id", http_event("GET", "/light/items/3"))
        )
    finally:
        split.close()
    assert (answer.status, json.loads(answer.body)) == (200, {"item_id": 3})
    assert answer.headers["x-tag"] == ["objects"]


def test_the_proof_refuses_a_rebuilt_app_that_differs() -> None:
    """Drop the route's tags from the recipe: the rebuilt app's route and its OpenAPI
    operation no longer match the monolith's, so the function is not shipped slim."""
    plan = plan_for("slimapp.main:app")
    function = next(f for f in plan.functions if f.name == "get_light_greeting")
    route = function.routes[0]
    assert route.slim is not None
    tampered_route = replace(
        route,
        slim=replace(route.slim, kwargs=tuple(kv for kv in route.slim.kwargs if kv[0] != "tags")),
    )
    tampered = replace(
        plan,
        functions=tuple(
            replace(f, routes=(tampered_route,)) if f is function else f for f in plan.functions
        ),
    )
    proven = prove_plan(tampered, app_dir=APPS)
    result = next(f for f in proven.functions if f.name == "get_light_greeting")
    assert result.mode == "full"
    assert result.not_slim.startswith("the rebuilt app differs from the monolith: routes[0].")
    assert "tags" in result.not_slim
    assert next(f for f in proven.functions if f.name == "get_light_ping").mode == "slim"


def test_mode_full_and_a_per_route_override() -> None:
    full = plan_for("slimapp.main:app", config=Config(mode="full"), prove=True)
    assert {f.mode for f in full.functions if f.kind == "route"} == {"full"}
    assert not [d for d in full.diagnostics if "not slim" in d.message]
    config = Config(routes=(("/heavy/*", {"mode": "full"}),))
    mixed = plan_for("slimapp.main:app", config=config, prove=True)
    modes = {f.name: f.mode for f in mixed.functions}
    assert modes[HEAVY] == "full"
    assert modes["get_light_ping"] == "slim"


def test_slim_include_and_exclude(tmp_path: Path) -> None:
    config = Config(
        slim_include=("slimapp.greeters", "python-dateutil"),
        routes=(("/light/greeting", {"slim_exclude": ["slimapp.hooks"]}),),
    )
    plan = plan_for("slimapp.main:app", config=config, prove=True)
    by_name = {f.name: f for f in plan.functions}
    ping = by_name["get_light_ping"].imports
    greeting = by_name["get_light_greeting"].imports
    assert ping is not None and greeting is not None
    assert "slimapp/greeters.py" in ping.files
    assert ping.include == ("python-dateutil",)
    assert "slimapp/hooks.py" in ping.files
    assert "slimapp/hooks.py" not in greeting.files


# ---------------------------------------------------------------- 4. explain


def test_explain_names_the_chain_that_pulled_a_distribution_in(slim_build: Path) -> None:
    runner = CliRunner()
    result = runner.invoke(cli, ["explain", HEAVY, "numpy", "--build", str(slim_build)])
    assert result.exit_code == 0, result.output
    assert result.stdout.strip() == "numpy is in get_heavy_stats: handler → slimapp.heavy → numpy"
    # A distribution only required by another: how that one came in.
    result = runner.invoke(cli, ["explain", HEAVY, "idna", "--build", str(slim_build)])
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith("idna ")
    assert "required by anyio; anyio: imports anyio: handler → " in result.stdout


def test_explain_lists_everything_and_refuses_what_is_not_there(slim_build: Path) -> None:
    runner = CliRunner()
    result = runner.invoke(cli, ["explain", "get_light_ping", "--build", str(slim_build)])
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[0] == "get_light_ping (slim): GET /light/ping -> slimapp.light:ping"
    assert "  slimapp.light  handler → slimapp.light" in lines
    assert any(line.startswith("  fastapi ") for line in lines)
    assert not any("numpy" in line for line in lines)
    result = runner.invoke(cli, ["explain", "get_light_ping", "numpy", "--build", str(slim_build)])
    assert result.exit_code == 1
    assert "'numpy' is not in function get_light_ping" in result.stderr
    result = runner.invoke(cli, ["explain", "docs", "--build", str(slim_build)])
    assert "It imports the whole app" in result.stdout
    # slimapp has middleware: its fallback imports the app too, and says why.
    result = runner.invoke(cli, ["explain", "fallback", "--build", str(slim_build)])
    assert result.stdout.startswith("fallback (full): Requests no route takes: the app's 404")
    assert "the app's middleware or 404/405 handlers shape" in result.stdout


def test_explain_a_fallback_without_app_code(tmp_path: Path) -> None:
    from tests.conftest import build_to

    build = build_to(tmp_path / "build", "minimal:app")  # no middleware, no handlers
    result = CliRunner().invoke(cli, ["explain", "fallback", "--build", str(build)])
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith("fallback (standalone): Requests no route takes: FastAPI's")
    assert "It imports no application code" in result.stdout


# ---------------------------------------------------------------- packaging follows imports


def _fake_site(root: Path, dists: dict[str, tuple[list[str], list[str]]]) -> Path:
    """An installed set: name → (Requires-Dist lines, files)."""
    for name, (requires, files) in dists.items():
        info = root / f"{name.replace('-', '_')}-1.0.dist-info"
        info.mkdir(parents=True)
        lines = ["Metadata-Version: 2.1", f"Name: {name}", "Version: 1.0"]
        lines += [f"Requires-Dist: {line}" for line in requires]
        (info / "METADATA").write_text("\n".join(lines) + "\n")
        record = [*files, f"{info.name}/METADATA", f"{info.name}/RECORD"]
        (info / "RECORD").write_text("".join(f"{f},,\n" for f in record))
        for file in files:
            (root / file).parent.mkdir(parents=True, exist_ok=True)
            (root / file).write_text("")
    return root


def test_selection_follows_imports_then_requirements(tmp_path: Path) -> None:
    site = _fake_site(
        tmp_path,
        {
            "web": (["core>=1", "extra-thing; extra == 'fast'"], ["web/__init__.py"]),
            "core": (["tiny; python_version < '3.99'"], ["core/__init__.py", "core.libs/x.so"]),
            "tiny": ([], ["tiny.py"]),
            "extra-thing": ([], ["extra_thing/__init__.py"]),
            "heavy": ([], ["heavy/__init__.py"]),
            "boto3": ([], ["boto3/__init__.py"]),
        },
    )
    installed = InstalledSet(site)
    imports = {
        "packages": {
            "web": ["handler", "web"],
            "boto3": ["handler", "app", "boto3"],
            "gone": ["handler", "gone"],
        },
        "include": [],
        "exclude": [],
    }
    selection = installed.select("f", imports, runtime_provided=("boto3",))
    assert selection.reasons == {
        "core": "required by web",
        "tiny": "required by core",
        "web": "imports web: handler → web",
    }
    assert [d.message.split(" (")[0] for d in selection.diagnostics] == ["imports gone"]
    assert installed.owners["core.libs/x.so"] == "core"
    excluding = installed.select("f", {**imports, "exclude": ["core"], "include": ["heavy"]})
    assert set(excluding.reasons) == {"web", "heavy", "boto3"}


def test_requirement_lines() -> None:
    assert (
        requirement_name("Typing_Extensions>=4.8; python_version < '3.13'") == "typing-extensions"
    )
    assert requirement_name('email-validator>=2; extra == "email"') is None
    closure = requirement_closure(["a"], requires={"a": ["b"], "b": ["a", "c"]}.get)
    assert closure == {"a": None, "b": "a"}  # c is not installed


@pytest.mark.slow
def test_a_light_zip_holds_no_numpy_and_runs_on_its_own(slim_build: Path, tmp_path: Path) -> None:
    """``fastsplit package`` for this interpreter's Python, then each zip alone (no
    site-packages) answers a request: the light ones without any numpy file."""
    requirements = tmp_path / "requirements.txt"
    requirements.write_text("fastapi==0.165.0\nnumpy==2.2.6\n")
    python = f"{sys.version_info.major}.{sys.version_info.minor}"
    result = CliRunner().invoke(
        cli,
        [
            "package", "--build", str(slim_build), "--out", str(tmp_path / "dist"),
            "--requirements", str(requirements), "--python", python,
            "--cache-dir", str(tmp_path / "cache"),
        ],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    zips = tmp_path / "dist" / "lambda"
    for name, numpy in [("get_light_ping", False), (HEAVY, True)]:
        names = zipfile.ZipFile(zips / f"{name}.zip").namelist()
        has_numpy = [n for n in names if n.startswith(("numpy/", "numpy-", "numpy.libs/"))]
        assert bool(has_numpy) is numpy, name
        unpacked = tmp_path / name
        zipfile.ZipFile(zips / f"{name}.zip").extractall(unpacked)
        path, query = ("/heavy/stats", "values=2&values=4") if numpy else ("/light/ping", "")
        answer = _run_alone(unpacked, http_event("GET", path, query))
        assert answer["statusCode"] == 200, answer
    described = json.loads((zips / "manifest.json").read_text())["functions"]
    assert "numpy" not in described["get_light_ping"]["distributions"]
    assert described[HEAVY]["distributions"]["numpy"].startswith("imports numpy: handler → ")


def _run_alone(function_dir: Path, event: dict[str, Any]) -> dict[str, Any]:
    """The Lambda runner with no site-packages: only the stdlib and the unpacked zip."""
    result = subprocess.run(
        [sys.executable, "-I", "-S", str(RUNNER), str(function_dir)],
        input=json.dumps(event) + "\n",
        capture_output=True,
        text=True,
        check=True,
    )
    message = json.loads(result.stdout.splitlines()[0])
    assert "error" not in message, message["error"]
    response: dict[str, Any] = message["response"]
    return response


def test_enum_tags_classmethod_dependencies_and_generic_models(tmp_path: Path) -> None:
    """Less common values: an enum tag and a classmethod dependency are importable
    names (the function stays slim and proven); an explicit ``list[Item]`` response
    model is a type expression, not a name (the function stays full, saying so)."""
    package = tmp_path / "recipes_demo"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "parts.py").write_text(
        textwrap.dedent(
            """
            from enum import Enum
            from typing import Annotated, Any

            from fastapi import Depends
            from pydantic import BaseModel


            class Color(str, Enum):
                RED = "red"


            class Item(BaseModel):
                x: int


            class Paging:
                @classmethod
                def size(cls) -> int:
                    return 10


            def listing(size: Annotated[int, Depends(Paging.size)]) -> dict[str, int]:
                return {"size": size}


            def items() -> Any:
                return [{"x": 1}]
            """
        )
    )
    (package / "main.py").write_text(
        textwrap.dedent(
            """
            from fastapi import Depends, FastAPI

            from recipes_demo.parts import Color, Item, Paging, items, listing

            app = FastAPI()
            app.add_api_route(
                "/listing", listing, tags=[Color.RED], dependencies=[Depends(Paging.size)]
            )
            app.add_api_route("/items", items, response_model=list[Item])
            """
        )
    )
    plan = plan_for("recipes_demo.main:app", tmp_path, prove=True)
    by_name = {f.name: f for f in plan.functions}
    assert by_name["get_listing"].mode == "slim", by_name["get_listing"].not_slim
    assert by_name["get_items"].mode == "full"
    assert "a type expression: fastsplit imports names only" in by_name["get_items"].not_slim
    route = by_name["get_listing"].routes[0]
    assert route.slim is not None
    options = dict(route.slim.kwargs)
    assert options["tags"] == Seq("list", (Ref("recipes_demo.parts", "Color.RED"),))
