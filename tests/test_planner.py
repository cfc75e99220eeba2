"""The planner: function names, gateway events and effective settings of every function.

Fixture apps come from tests/apps and example_app; apps that only matter to one test are
small FastAPI apps defined in this module and read through the real parser.
"""

from __future__ import annotations

import re
import sys
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from fastsplit.config import Config
from fastsplit.errors import ConfigError, Diagnostic
from fastsplit.model import AppSpec, BuildPlan, FallbackRoute, Function, HttpEvent, Route
from fastsplit.naming import LAMBDA_NAME_MAX
from fastsplit.parser import describe_app, load_app_spec
from fastsplit.planner import gateway_path, plan_build, service_slug, wants_slim
from tests.conftest import APPS, REPO

HERE = Path(__file__).resolve().parent


@pytest.fixture(autouse=True)
def _no_bytecode_in_the_repo(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sys, "dont_write_bytecode", True)


def app_spec(app_ref: str, app_dir: Path = APPS) -> AppSpec:
    return load_app_spec(app_ref, app_dir=app_dir)


def plan(app_ref: str, config: Config | None = None, app_dir: Path = APPS) -> BuildPlan:
    return plan_build(app_spec(app_ref, app_dir), config or Config())


def local_spec(attribute: str) -> AppSpec:
    """A small app defined in this module, read by the parser."""
    module = sys.modules[__name__]
    return describe_app(
        getattr(module, attribute),
        app_ref=f"{__name__}:{attribute}",
        module=module,
        app_dir=HERE,
    )


def function(build_plan: BuildPlan, name: str) -> Function:
    (found,) = [f for f in build_plan.functions if f.name == name]
    return found


def function_for(build_plan: BuildPlan, key: str) -> Function:
    (found,) = [f for f in build_plan.functions if any(r.key == key for r in f.routes)]
    return found


def names(build_plan: BuildPlan) -> list[str]:
    return [f.name for f in build_plan.functions]


def events(fn: Function) -> list[tuple[str, str]]:
    return [(event.method, event.path) for event in fn.events]


def config_error(app: str | AppSpec, config: Config | None = None) -> str:
    spec = app if isinstance(app, AppSpec) else app_spec(app)
    with pytest.raises(ConfigError) as info:
        plan_build(spec, config or Config())
    message = str(info.value)
    assert "\n" not in message
    return message


@pytest.fixture(scope="module")
def example() -> BuildPlan:
    sys.dont_write_bytecode, previous = True, sys.dont_write_bytecode
    try:
        return plan("example_app.main:app", app_dir=REPO)
    finally:
        sys.dont_write_bytecode = previous


# ---------------------------------------------------------------- tiny apps


def _a() -> dict[str, str]:
    return {}


def _b() -> dict[str, str]:
    return {}


def _c() -> dict[str, str]:
    return {}


same_explicit_name = FastAPI()
same_explicit_name.add_api_route(
    "/one", _a, openapi_extra={"x-fastsplit": {"name": "shared_fn"}}, methods=["GET"]
)
same_explicit_name.add_api_route(
    "/two", _b, openapi_extra={"x-fastsplit": {"name": "shared_fn"}}, methods=["POST"]
)

explicit_takes_automatic_name = FastAPI()
explicit_takes_automatic_name.add_api_route("/x", _a, methods=["GET"])
explicit_takes_automatic_name.add_api_route(
    "/y", _b, openapi_extra={"x-fastsplit": {"name": "get_x"}}, methods=["GET"]
)

reserved_docs = FastAPI()
reserved_docs.add_api_route("/x", _a, openapi_extra={"x-fastsplit": {"name": "docs"}})

reserved_fallback = FastAPI()
reserved_fallback.add_api_route("/x", _a, openapi_extra={"x-fastsplit": {"name": "fallback"}})

long_explicit_name = FastAPI()
long_explicit_name.add_api_route("/x", _a, openapi_extra={"x-fastsplit": {"name": "n" * 70}})

shared_gateway_route = FastAPI()
shared_gateway_route.add_api_route("/things/{thing_id:int}", _a, methods=["GET"])
shared_gateway_route.add_api_route("/things/{slug}", _b, methods=["GET"])
shared_gateway_route.add_api_route("/things/{slug}", _c, methods=["DELETE"])

logical_id_clash = FastAPI()
logical_id_clash.add_api_route("/report/2024", _a, methods=["GET"])
logical_id_clash.add_api_route("/report2024", _b, methods=["GET"])

settings_not_a_table = FastAPI()
settings_not_a_table.add_api_route("/x", _a, openapi_extra={"x-fastsplit": "memory=1024"})


async def _custom_404(request: Request, exc: Exception) -> JSONResponse:
    return JSONResponse({"missing": True}, status_code=404)


custom_handler_app = FastAPI()
custom_handler_app.add_exception_handler(404, _custom_404)
custom_handler_app.add_api_route("/x", _a)


# ---------------------------------------------------------------- names


def test_names_come_from_method_and_path() -> None:
    assert names(plan("minimal:app")) == ["get_hello", "get_hello_name", "docs", "fallback"]


def test_example_app_function_names(example: BuildPlan) -> None:
    assert names(example) == [
        "get_users",
        "post_users",
        "get_users_user_id",
        "delete_users_user_id",
        "get_users_user_id_avatar",
        "get_items",
        "post_items",
        "get_items_item_id",
        "patch_put_items_item_id",
        "delete_items_item_id",
        "get_files",
        "get_files_file_path",
        "post_auth_login",
        "get_auth_me",
        "mount_static",
        "get_root",
        "get_health",
        "get_favicon_ico",
        "docs",
        "fallback",
    ]


def test_two_method_route_joins_its_methods(example: BuildPlan) -> None:
    fn = function(example, "patch_put_items_item_id")
    assert fn.kind == "route"
    assert events(fn) == [("PATCH", "/items/{item_id}"), ("PUT", "/items/{item_id}")]


def test_root_route_is_get_root(example: BuildPlan) -> None:
    assert function_for(example, "GET /").name == "get_root"


def test_mount_is_named_after_its_prefix(example: BuildPlan) -> None:
    fn = function(example, "mount_static")
    assert fn.kind == "mount"
    assert fn.logical_id == "MountStaticFunction"


def test_mount_functions_of_the_mounts_app() -> None:
    assert names(plan("mounts:app")) == [
        "get_root",
        "mount_static",
        "mount_sub",
        "mount_raw",
        "docs",
        "fallback",
    ]


def test_names_do_not_depend_on_other_routes() -> None:
    """Adding a route must not rename the others (names come from the route only)."""
    full = plan("minimal:app")
    spec = app_spec("minimal:app")
    fewer = plan_build(replace(spec, routes=spec.routes[-1:]), Config())
    assert function(full, "get_hello_name").routes == function(fewer, "get_hello_name").routes


def test_path_collision_numbers_the_later_route_with_a_warning() -> None:
    build_plan = plan("nasty:app")
    assert function_for(build_plan, "GET /a-b").name == "get_a_b"
    assert function_for(build_plan, "GET /a_b").name == "get_a_b_2"
    assert (
        Diagnostic(
            "warning",
            "GET /a_b",
            "function name 'get_a_b' clashes with GET /a-b; named 'get_a_b_2' instead "
            "(set x-fastsplit name to choose)",
        )
        in build_plan.diagnostics
    )


def test_nasty_paths_give_identifier_names() -> None:
    for fn in plan("nasty:app").functions:
        assert re.fullmatch(r"[a-z_][a-z0-9_]*", fn.name), fn.name


def test_shared_route_name_does_not_merge_functions() -> None:
    build_plan = plan("nasty:app")
    assert function_for(build_plan, "GET /dup/one").name == "get_dup_one"
    assert function_for(build_plan, "GET /dup/two").name == "get_dup_two"


def test_explicit_name_from_x_fastsplit() -> None:
    fn = function_for(plan("settings:app"), "GET /renamed")
    assert (fn.name, fn.logical_id) == ("custom_name", "CustomNameFunction")


def test_same_explicit_name_on_two_routes_is_an_error_naming_both() -> None:
    message = config_error(local_spec("same_explicit_name"))
    assert "GET /one" in message
    assert "POST /two" in message
    assert "'shared_fn'" in message
    assert "give one of them another name" in message


def test_explicit_name_wins_over_an_automatic_one_whatever_the_order() -> None:
    build_plan = plan_build(local_spec("explicit_takes_automatic_name"), Config())
    assert function_for(build_plan, "GET /y").name == "get_x"
    assert function_for(build_plan, "GET /x").name == "get_x_2"


@pytest.mark.parametrize("attribute", ["reserved_docs", "reserved_fallback"])
def test_reserved_names_are_errors(attribute: str) -> None:
    message = config_error(local_spec(attribute))
    assert message.startswith("GET /x: name ")
    assert "is reserved by fastsplit; choose another" in message


def test_reserved_name_from_a_pyproject_glob_is_an_error() -> None:
    config = Config(routes=(("/hello", {"name": "docs"}),))
    assert "GET /hello: name 'docs' is reserved" in config_error("minimal:app", config)


def test_glob_giving_one_name_to_two_routes_is_an_error() -> None:
    config = Config(routes=(("GET /hello*", {"name": "hello"}),))
    message = config_error("minimal:app", config)
    assert "GET /hello" in message
    assert "GET /hello/{name}" in message
    assert "both map to function name 'hello'" in message


def test_explicit_name_too_long_for_the_lambda_name_is_an_error() -> None:
    message = config_error(local_spec("long_explicit_name"))
    assert "is longer than the" in message
    assert "shorten it" in message


def lambda_name(build_plan: BuildPlan, fn: Function) -> str:
    return f"{build_plan.service}-{build_plan.stage}-{fn.name}"


def test_long_names_are_shortened_with_a_hash_to_fit_64_characters() -> None:
    build_plan = plan("routers_tree:app", Config(service="s" * 40))
    for fn in build_plan.functions:
        assert len(lambda_name(build_plan, fn)) <= LAMBDA_NAME_MAX
    short = function_for(build_plan, "GET /api/outer/middle/leaf/whoami").name
    assert re.fullmatch(r"get_api_oute_[0-9a-f]{6}", short)
    assert len(set(names(build_plan))) == len(build_plan.functions)
    assert (
        Diagnostic(
            "info",
            "GET /api/outer/middle/leaf/whoami",
            f"function name shortened to {short!r}",
        )
        in build_plan.diagnostics
    )


def test_shortened_names_are_stable() -> None:
    config = Config(service="s" * 40)
    assert names(plan("routers_tree:app", config)) == names(plan("routers_tree:app", config))


def test_names_that_fit_are_not_shortened() -> None:
    build_plan = plan("routers_tree:app", Config(service="s" * 20))
    assert "get_api_outer_middle_leaf_whoami" in names(build_plan)
    assert not [d for d in build_plan.diagnostics if "shortened" in d.message]


def test_service_too_long_for_any_function_name_is_an_error_or_fits() -> None:
    config = Config(service="s" * 55)
    try:
        build_plan = plan("routers_tree:app", config)
    except ConfigError:
        return
    for fn in build_plan.functions:
        assert len(lambda_name(build_plan, fn)) <= LAMBDA_NAME_MAX, lambda_name(build_plan, fn)


def all_plans() -> list[BuildPlan]:
    refs = ["minimal:app", "nasty:app", "routers_tree:app", "mounts:app", "settings:app"]
    return [plan(ref) for ref in refs] + [plan("example_app.main:app", app_dir=REPO)]


def test_logical_ids_are_alphanumeric_and_unique() -> None:
    for build_plan in all_plans():
        ids = [fn.logical_id for fn in build_plan.functions]
        assert len(set(ids)) == len(ids)
        for logical_id in ids:
            assert re.fullmatch(r"[A-Za-z][A-Za-z0-9]*Function", logical_id), logical_id


def test_logical_id_is_the_pascal_case_name(example: BuildPlan) -> None:
    assert function(example, "get_users_user_id").logical_id == "GetUsersUserIdFunction"
    assert function(example, "docs").logical_id == "DocsFunction"
    assert function(example, "fallback").logical_id == "FallbackFunction"


def test_automatic_names_with_clashing_logical_ids_are_disambiguated() -> None:
    build_plan = plan_build(local_spec("logical_id_clash"), Config())
    ids = [fn.logical_id for fn in build_plan.functions]
    assert len(set(ids)) == len(ids)


def test_service_defaults_to_a_slug_of_the_title(example: BuildPlan) -> None:
    assert example.service == "example-app"
    assert plan("minimal:app").service == "minimal"


@pytest.mark.parametrize(
    ("title", "expected"),
    [
        ("My Shop API!", "my-shop-api"),
        ("2048 game", "app-2048-game"),
        ("???", "app"),
        ("x" * 50, "x" * 32),
    ],
)
def test_service_slug(title: str, expected: str) -> None:
    spec = replace(app_spec("minimal:app"), title=title)
    slug = service_slug(spec)
    assert slug == expected
    assert re.fullmatch(r"[a-z][a-z0-9-]*", slug)


def test_service_from_config_wins() -> None:
    assert plan("minimal:app", Config(service="shop")).service == "shop"


# ---------------------------------------------------------------- gateway paths


def route(path: str, *, kind: Any = "api", methods: tuple[str, ...] = ("GET",)) -> Route:
    return Route(index=0, kind=kind, methods=methods, path=path, path_format=path, path_regex="^$")


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("/", "/"),
        ("/users", "/users"),
        ("/users/{user_id}", "/users/{user_id}"),
        ("/users/{user_id:int}", "/users/{user_id}"),
        ("/users/{user_id:int}/avatar", "/users/{user_id}/avatar"),
        ("/price/{value:float}", "/price/{value}"),
        ("/u/{id:uuid}", "/u/{id}"),
        ("/files/{file_path:path}", "/files/{file_path+}"),
        ("/{everything:path}", "/{everything+}"),
        ("/users/", "/users/"),
    ],
)
def test_gateway_path_translation(path: str, expected: str) -> None:
    assert gateway_path(route(path)) == expected


@pytest.mark.parametrize(
    "path",
    [
        "/report-{year:int}.csv",
        "/files/{file_path:path}/raw",
        "/a/{x}{y}",
        "/c++",
        "/v{version}/items",
    ],
)
def test_paths_the_gateway_cannot_express(path: str) -> None:
    assert gateway_path(route(path)) is None


def test_mount_gateway_path_is_a_greedy_proxy() -> None:
    assert gateway_path(route("/static", kind="mount", methods=())) == "/static/{proxy+}"
    assert gateway_path(route("/static/", kind="mount", methods=())) == "/static/{proxy+}"


def test_example_app_events(example: BuildPlan) -> None:
    assert events(function(example, "get_files_file_path")) == [
        ("GET", "/files/{file_path+}"),
        ("OPTIONS", "/files/{file_path+}"),
    ]
    assert events(function(example, "mount_static")) == [("ANY", "/static/{proxy+}")]
    assert events(function(example, "fallback")) == [("ANY", "$default")]


def test_inexpressible_path_is_a_warning_and_no_function() -> None:
    build_plan = plan("nasty:app")
    assert (
        Diagnostic(
            "warning",
            "GET /report-{year:int}.csv",
            "API Gateway cannot express this path (parameters must be whole segments and "
            "a path parameter must come last); not generated",
        )
        in build_plan.diagnostics
    )
    assert not [f for f in build_plan.functions if f.routes and "report" in f.routes[0].path]


def test_every_function_but_fallback_has_events() -> None:
    for build_plan in all_plans():
        for fn in build_plan.functions:
            assert fn.events, fn.name


def test_routes_sharing_a_gateway_route_go_to_the_first_function() -> None:
    build_plan = plan_build(local_spec("shared_gateway_route"), Config())
    first = function_for(build_plan, "GET /things/{thing_id:int}")
    assert [r.key for r in first.routes] == ["GET /things/{thing_id:int}", "GET /things/{slug}"]
    assert events(first) == [("GET", "/things/{thing_id}")]
    assert events(function_for(build_plan, "DELETE /things/{slug}")) == [
        ("DELETE", "/things/{slug}")
    ]
    assert not [f for f in build_plan.functions if f.name == "get_things_slug"]
    (info,) = [d for d in build_plan.diagnostics if d.where == "GET /things/{slug}"]
    assert info.level == "info"
    assert info.message == (
        "shares the gateway route GET /things/{slug} with function 'get_things_thing_id', "
        "which serves it (as the monolith does)"
    )


# ---------------------------------------------------------------- CORS


def test_cors_adds_options_only_to_the_first_function_of_each_path(example: BuildPlan) -> None:
    owners: dict[str, list[str]] = {}
    for fn in example.functions:
        for event in fn.events:
            if event.method == "OPTIONS":
                owners.setdefault(event.path, []).append(fn.name)
    assert owners == {
        "/users": ["get_users"],
        "/users/{user_id}": ["get_users_user_id"],
        "/users/{user_id}/avatar": ["get_users_user_id_avatar"],
        "/items": ["get_items"],
        "/items/{item_id}": ["get_items_item_id"],
        "/files": ["get_files"],
        "/files/{file_path+}": ["get_files_file_path"],
        "/auth/login": ["post_auth_login"],
        "/auth/me": ["get_auth_me"],
        "/": ["get_root"],
        "/health": ["get_health"],
        "/favicon.ico": ["get_favicon_ico"],
        "/openapi.json": ["docs"],
        "/docs": ["docs"],
        "/docs/oauth2-redirect": ["docs"],
        "/redoc": ["docs"],
    }


def test_no_options_events_without_cors_middleware() -> None:
    for fn in plan("minimal:app").functions:
        assert "OPTIONS" not in [event.method for event in fn.events]


def test_events_are_unique_across_functions(example: BuildPlan) -> None:
    seen = [(e.method, e.path) for fn in example.functions for e in fn.events]
    assert len(seen) == len(set(seen))


# ---------------------------------------------------------------- settings


def settings_of(build_plan: BuildPlan, key: str) -> dict[str, Any]:
    return function_for(build_plan, key).settings.as_dict()


def test_global_settings_apply_to_every_function() -> None:
    config = Config(memory=256, timeout=10, architecture="arm64", environment=(("A", "1"),))
    for fn in plan("minimal:app", config).functions:
        assert fn.settings.as_dict() == {
            "memory": 256,
            "timeout": 10,
            "architecture": "arm64",
            "environment": {"A": "1"},
        }


def test_path_glob_overrides_global() -> None:
    build_plan = plan("minimal:app", Config(memory=256, routes=(("/hello/*", {"memory": 1024}),)))
    assert settings_of(build_plan, "GET /hello/{name}")["memory"] == 1024
    assert settings_of(build_plan, "GET /hello")["memory"] == 256


def test_path_glob_matches_the_path_without_converters() -> None:
    config = Config(routes=(("/users/{user_id}", {"memory": 1024}),))
    build_plan = plan("example_app.main:app", config, REPO)
    assert settings_of(build_plan, "GET /users/{user_id:int}")["memory"] == 1024
    assert settings_of(build_plan, "DELETE /users/{user_id:int}")["memory"] == 1024


def test_method_and_path_glob_applies_to_that_method_only() -> None:
    config = Config(routes=(("DELETE /users/*", {"timeout": 5}), ("post /users", {"memory": 1024})))
    build_plan = plan("example_app.main:app", config, REPO)
    assert settings_of(build_plan, "DELETE /users/{user_id:int}")["timeout"] == 5
    assert settings_of(build_plan, "GET /users/{user_id:int}")["timeout"] == 29
    assert settings_of(build_plan, "POST /users")["memory"] == 1024
    assert settings_of(build_plan, "GET /users")["memory"] == 512


def test_any_method_glob() -> None:
    config = Config(routes=(("* /items*", {"memory": 2048}),))
    build_plan = plan("example_app.main:app", config, REPO)
    assert settings_of(build_plan, "PATCH,PUT /items/{item_id:int}")["memory"] == 2048
    assert settings_of(build_plan, "GET /items")["memory"] == 2048
    assert settings_of(build_plan, "GET /users")["memory"] == 512


def test_route_name_glob_matches_route_name_or_function_name() -> None:
    config = Config(routes=(("hello_n*", {"memory": 1024}), ("get_hello", {"timeout": 3})))
    build_plan = plan("minimal:app", config)
    assert settings_of(build_plan, "GET /hello/{name}")["memory"] == 1024
    assert settings_of(build_plan, "GET /hello")["memory"] == 512
    assert settings_of(build_plan, "GET /hello")["timeout"] == 3
    assert settings_of(build_plan, "GET /hello/{name}")["timeout"] == 29


def test_globs_apply_in_file_order() -> None:
    broad_then_narrow = Config(routes=(("/hello*", {"memory": 1024}), ("/hello", {"memory": 256})))
    narrow_then_broad = Config(routes=(("/hello", {"memory": 256}), ("/hello*", {"memory": 1024})))
    assert settings_of(plan("minimal:app", broad_then_narrow), "GET /hello")["memory"] == 256
    assert settings_of(plan("minimal:app", narrow_then_broad), "GET /hello")["memory"] == 1024


def test_x_fastsplit_wins_over_globs_and_global() -> None:
    config = Config(memory=128, routes=(("/report", {"memory": 256, "timeout": 5}),))
    build_plan = plan("settings:app", config)
    assert settings_of(build_plan, "GET /report")["memory"] == 1024
    assert settings_of(build_plan, "GET /report")["timeout"] == 60
    assert settings_of(build_plan, "GET /defaults")["memory"] == 128


def test_glob_settings_not_set_by_x_fastsplit_still_apply() -> None:
    config = Config(routes=(("/report", {"architecture": "arm64"}),))
    assert settings_of(plan("settings:app", config), "GET /report") == {
        "memory": 1024,
        "timeout": 60,
        "architecture": "arm64",
        "environment": {},
    }


def test_x_fastsplit_settings_of_the_settings_app() -> None:
    build_plan = plan("settings:app")
    assert settings_of(build_plan, "GET /feature")["environment"] == {"FEATURE": "on"}
    assert settings_of(build_plan, "POST /throttled")["reserved_concurrency"] == 5
    assert settings_of(build_plan, "GET /defaults") == {
        "memory": 512,
        "timeout": 29,
        "architecture": "x86_64",
        "environment": {},
    }


def test_route_environment_adds_to_and_overrides_global() -> None:
    config = Config(environment=(("FEATURE", "off"), ("LOG", "info")))
    build_plan = plan("settings:app", config)
    assert settings_of(build_plan, "GET /feature")["environment"] == {
        "FEATURE": "on",
        "LOG": "info",
    }
    assert settings_of(build_plan, "GET /defaults")["environment"] == {
        "FEATURE": "off",
        "LOG": "info",
    }


def test_glob_environment_adds_to_global() -> None:
    config = Config(
        environment=(("LOG", "info"),), routes=(("/hello", {"environment": (("X", "1"),)}),)
    )
    assert settings_of(plan("minimal:app", config), "GET /hello")["environment"] == {
        "LOG": "info",
        "X": "1",
    }


def test_glob_environment_and_x_fastsplit_environment_are_merged() -> None:
    config = Config(routes=(("/feature", {"environment": (("FROM_GLOB", "1"),)}),))
    assert settings_of(plan("settings:app", config), "GET /feature")["environment"] == {
        "FEATURE": "on",
        "FROM_GLOB": "1",
    }


def test_route_iam_statements_add_to_global() -> None:
    global_statement = {"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"}
    route_statement = {"Effect": "Allow", "Action": "sqs:SendMessage", "Resource": "*"}
    config = Config(
        iam_statements=(global_statement,),
        routes=(("/hello", {"iam_statements": (route_statement,)}),),
    )
    build_plan = plan("minimal:app", config)
    assert settings_of(build_plan, "GET /hello")["iam_statements"] == [
        global_statement,
        route_statement,
    ]
    assert settings_of(build_plan, "GET /hello/{name}")["iam_statements"] == [global_statement]


def test_out_of_range_x_fastsplit_setting_names_route_and_value() -> None:
    message = config_error("bad_settings:app")
    assert (
        message == "GET /tiny: memory 64 is out of range; use a whole number from 128 to 10240 MB"
    )


def test_unknown_x_fastsplit_setting_names_route_and_key() -> None:
    message = config_error("unknown_setting:app")
    assert message.startswith("GET /typo: unknown setting 'memroy'; known settings are name,")


def test_x_fastsplit_that_is_not_a_mapping_says_so() -> None:
    assert "must be a table/object" in config_error(local_spec("settings_not_a_table"))


# ---------------------------------------------------------------- docs and fallback


def test_docs_function_serves_every_docs_route() -> None:
    fn = function(plan("minimal:app"), "docs")
    assert fn.kind == "docs"
    assert [r.path for r in fn.routes] == [
        "/openapi.json",
        "/docs",
        "/docs/oauth2-redirect",
        "/redoc",
    ]
    assert ("GET", "/openapi.json") in events(fn)
    assert ("HEAD", "/docs") in events(fn)


def test_fallback_function_takes_the_default_route() -> None:
    fn = function(plan("minimal:app"), "fallback")
    assert fn.kind == "fallback"
    assert fn.routes == ()
    assert events(fn) == [("ANY", "$default")]


def test_no_docs_removes_the_docs_function() -> None:
    assert "docs" not in names(plan("minimal:app", Config(docs=False)))


def test_no_fallback_removes_the_fallback_function() -> None:
    assert "fallback" not in names(plan("minimal:app", Config(fallback=False)))


def test_no_docs_and_no_fallback_leave_only_route_functions() -> None:
    build_plan = plan("minimal:app", Config(docs=False, fallback=False))
    assert names(build_plan) == ["get_hello", "get_hello_name"]


def test_fallback_routes_are_the_whole_table_with_mounts_taking_every_method() -> None:
    build_plan = plan("mounts:app")
    assert build_plan.fallback_routes == (
        FallbackRoute("/openapi.json", ("GET", "HEAD")),
        FallbackRoute("/docs", ("GET", "HEAD")),
        FallbackRoute("/docs/oauth2-redirect", ("GET", "HEAD")),
        FallbackRoute("/redoc", ("GET", "HEAD")),
        FallbackRoute("/", ("GET",)),
        FallbackRoute("/static", None),
        FallbackRoute("/sub", None),
        FallbackRoute("/raw", None),
    )


def test_fallback_imports_the_app_for_its_middleware(example: BuildPlan) -> None:
    (note,) = [d for d in example.diagnostics if d.where == "fallback"]
    assert note.level == "info"
    assert "imports the whole app" in note.message
    assert "the app's middleware add_version_header, CORSMiddleware" in note.message
    (fallback,) = [f for f in example.functions if f.kind == "fallback"]
    assert fallback.mode == "full"


def test_fallback_imports_the_app_for_a_custom_404_handler() -> None:
    build_plan = plan_build(local_spec("custom_handler_app"), Config())
    (note,) = [d for d in build_plan.diagnostics if d.where == "fallback"]
    assert "a custom 404/405 exception handler" in note.message
    (fallback,) = [f for f in build_plan.functions if f.kind == "fallback"]
    assert fallback.mode == "full"


def test_fallback_without_middleware_or_handlers_is_the_route_table() -> None:
    build_plan = plan("mounts:app")
    assert not [d for d in build_plan.diagnostics if d.where == "fallback"]
    (fallback,) = [f for f in build_plan.functions if f.kind == "fallback"]
    assert fallback.mode == "standalone"


def test_no_fallback_caveat_without_fallback(example: BuildPlan) -> None:
    spec = example.spec
    build_plan = plan_build(spec, Config(fallback=False))
    assert not [d for d in build_plan.diagnostics if d.where == "fallback"]


# ---------------------------------------------------------------- diagnostics


def test_app_without_routes_is_an_error() -> None:
    build_plan = plan("no_routes:app")
    assert build_plan.diagnostics == (
        Diagnostic("error", "no_routes:app", "the app has no HTTP routes to split"),
    )
    assert names(build_plan) == ["fallback"]


def test_app_with_only_docs_routes_is_an_error() -> None:
    spec = app_spec("minimal:app")
    docs_only = replace(spec, routes=tuple(r for r in spec.routes if r.kind == "docs"))
    build_plan = plan_build(docs_only, Config())
    assert names(build_plan) == ["docs", "fallback"]
    # Only docs: still something to deploy, so not an error.
    assert not [d for d in build_plan.diagnostics if d.level == "error"]


def test_timeout_over_30_seconds_is_a_warning() -> None:
    build_plan = plan("settings:app")
    assert (
        Diagnostic(
            "warning",
            "GET /report",
            "timeout 60 s is longer than the 30 s an HTTP API waits for a function; "
            "clients get a 503 after 30 s",
        )
        in build_plan.diagnostics
    )
    assert [d.where for d in build_plan.diagnostics if "timeout" in d.message] == ["GET /report"]


def test_timeout_of_exactly_30_seconds_is_fine() -> None:
    build_plan = plan("minimal:app", Config(timeout=30))
    assert not [d for d in build_plan.diagnostics if "timeout" in d.message]


def test_global_timeout_over_30_seconds_warns_once() -> None:
    build_plan = plan("minimal:app", Config(timeout=45))
    warned = {d.where for d in build_plan.diagnostics if "timeout 45 s" in d.message}
    assert warned == {"options"}


def test_diagnostics_are_sorted_errors_first_and_unique() -> None:
    build_plan = plan("closure:app", Config(timeout=45))
    levels = [d.level for d in build_plan.diagnostics]
    rank = {"error": 0, "warning": 1, "info": 2}
    assert levels == sorted(levels, key=rank.__getitem__)
    assert len(set(build_plan.diagnostics)) == len(build_plan.diagnostics)


def test_parser_diagnostics_are_carried_into_the_plan() -> None:
    assert (
        Diagnostic(
            "warning",
            "WEBSOCKET /ws/echo",
            "websockets are not supported on HTTP APIs; not generated",
        )
        in plan("example_app.main:app", app_dir=REPO).diagnostics
    )


def test_planning_is_deterministic() -> None:
    assert plan("nasty:app") == plan("nasty:app")


def test_plan_copies_stage_region_runtime() -> None:
    config = Config(stage="prod", region="eu-west-1", runtime="python3.13")
    build_plan = plan("minimal:app", config)
    assert (build_plan.stage, build_plan.region, build_plan.runtime) == (
        "prod",
        "eu-west-1",
        "python3.13",
    )


def test_http_event_of_a_route_function() -> None:
    assert function(plan("minimal:app"), "get_hello_name").events == (
        HttpEvent("GET", "/hello/{name}"),
    )


def test_plain_starlette_app_is_split_without_head_in_names() -> None:
    build_plan = plan("starlette_app:app")
    names = {f.name: [(e.method, e.path) for e in f.events] for f in build_plan.functions}
    assert names["get_root"] == [("GET", "/"), ("HEAD", "/")]
    assert names["delete_get_users_id"] == [
        ("DELETE", "/users/{id}"),
        ("GET", "/users/{id}"),
        ("HEAD", "/users/{id}"),
    ]


def test_an_all_full_build_skips_the_slim_recipes() -> None:
    """Recipes (a baseline FastAPI route per route) are worked out only when some
    function is asked to be slim: by the config, a pyproject glob or x-fastsplit."""
    full = Config(mode="full")
    spec = load_app_spec("minimal:app", app_dir=APPS, recipes=lambda s: wants_slim(s, full))
    assert not wants_slim(spec, full)
    assert all(route.slim is None and not route.not_slim for route in spec.routes)
    one_slim = Config(mode="full", routes=(("GET /hello*", {"mode": "slim"}),))
    assert wants_slim(spec, one_slim)
    spec = load_app_spec("minimal:app", app_dir=APPS, recipes=lambda s: wants_slim(s, one_slim))
    api = [route for route in spec.routes if route.kind == "api"]
    assert api and all(route.slim is not None or route.not_slim for route in api)
    assert wants_slim(spec, Config())
