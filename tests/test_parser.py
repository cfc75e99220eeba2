"""The parser on real fixture apps: FastAPI's route table read into the frozen model.

No mocks of FastAPI: every test imports a real app (tests/apps, example_app, or a tiny
app defined here or written to a temporary folder) through ``load_app_spec``.
"""

from __future__ import annotations

import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi import FastAPI, HTTPException
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.requests import Request
from starlette.routing import Host

from fastsplit.errors import AppImportError, Diagnostic
from fastsplit.model import AppSpec, PathParam, Route
from fastsplit.parser import describe_app, load_app_spec
from tests.conftest import APPS, REPO

HERE = Path(__file__).resolve().parent


@pytest.fixture(autouse=True)
def _no_bytecode_in_the_repo(monkeypatch: pytest.MonkeyPatch) -> None:
    """Importing fixture apps in-process must not write __pycache__ into the repo."""
    monkeypatch.setattr(sys, "dont_write_bytecode", True)


@pytest.fixture
def app_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A temporary app folder; modules imported from it are forgotten afterwards."""
    monkeypatch.setattr(sys, "path", list(sys.path))
    before = set(sys.modules)
    yield tmp_path
    root = tmp_path.resolve()
    for name in set(sys.modules) - before:
        file = getattr(sys.modules[name], "__file__", None)
        if file and Path(file).resolve().is_relative_to(root):
            del sys.modules[name]


def spec(app_ref: str, app_dir: Path = APPS) -> AppSpec:
    return load_app_spec(app_ref, app_dir=app_dir)


def by_path(app_spec: AppSpec) -> dict[str, list[Route]]:
    routes: dict[str, list[Route]] = {}
    for route in app_spec.routes:
        routes.setdefault(route.path, []).append(route)
    return routes


def only(app_spec: AppSpec, path: str) -> Route:
    (route,) = by_path(app_spec)[path]
    return route


def import_error(app_ref: str, app_dir: Path = APPS) -> str:
    with pytest.raises(AppImportError) as info:
        load_app_spec(app_ref, app_dir=app_dir)
    message = str(info.value)
    assert "\n" not in message
    return message


DOCS_PATHS = ["/openapi.json", "/docs", "/docs/oauth2-redirect", "/redoc"]


# ---------------------------------------------------------------- minimal


def test_minimal_routes_in_dispatch_order() -> None:
    routes = spec("minimal:app").routes
    assert [route.path for route in routes] == [*DOCS_PATHS, "/hello", "/hello/{name}"]
    assert [route.index for route in routes] == list(range(len(routes)))


def test_minimal_api_route_fields() -> None:
    route = only(spec("minimal:app"), "/hello/{name}")
    assert route.kind == "api"
    assert route.methods == ("GET",)
    assert route.path_format == "/hello/{name}"
    assert route.params == (PathParam("name", "str"),)
    assert route.name == "hello_name"
    assert route.endpoint == "minimal:hello_name"
    assert route.key == "GET /hello/{name}"
    assert route.settings == {}
    assert route.assets == ()


def test_path_regex_is_starlettes_pattern() -> None:
    import re

    route = only(spec("minimal:app"), "/hello/{name}")
    assert re.match(route.path_regex, "/hello/world")
    assert not re.match(route.path_regex, "/hello/a/b")


def test_docs_routes_have_kind_docs_and_sorted_methods() -> None:
    app_spec = spec("minimal:app")
    for path in DOCS_PATHS:
        route = only(app_spec, path)
        assert route.kind == "docs"
        assert route.methods == ("GET", "HEAD")


def test_minimal_app_facts() -> None:
    app_spec = spec("minimal:app")
    assert (app_spec.app, app_spec.module, app_spec.attribute) == (
        "minimal:app",
        "minimal",
        "app",
    )
    assert app_spec.title == "FastAPI"
    assert app_spec.redirect_slashes is True
    assert app_spec.middleware == ()
    assert app_spec.custom_http_error_handlers is False
    assert app_spec.source_modules == ("minimal.py",)
    assert app_spec.source_files == ("minimal.py",)
    assert app_spec.diagnostics == ()


def test_parsing_twice_gives_equal_specs() -> None:
    assert spec("minimal:app") == spec("minimal:app")


# ---------------------------------------------------------------- routers_tree


def test_nested_router_prefixes_apply_at_every_level() -> None:
    paths = [route.path for route in spec("routers_tree:app").routes if route.kind == "api"]
    assert paths == [
        "/api/outer/middle/info",
        "/api/outer/middle/leaf/text",
        "/api/outer/middle/leaf/whoami",
        "/v1/shared/ping",
        "/v2/shared/ping",
    ]


def test_router_tags_are_merged_from_every_level() -> None:
    app_spec = spec("routers_tree:app")
    assert only(app_spec, "/api/outer/middle/info").tags == ("outer", "middle")
    assert only(app_spec, "/api/outer/middle/leaf/whoami").tags == ("outer", "middle", "leaf")
    assert only(app_spec, "/v1/shared/ping").tags == ("shared",)


def test_router_included_twice_gives_two_routes_with_one_endpoint() -> None:
    app_spec = spec("routers_tree:app")
    v1, v2 = only(app_spec, "/v1/shared/ping"), only(app_spec, "/v2/shared/ping")
    assert v1.endpoint == v2.endpoint == "routers_tree:ping"
    assert v1.name == v2.name == "ping"
    assert v1.index < v2.index
    assert v1.path_regex != v2.path_regex


def test_nested_routes_keep_their_endpoints() -> None:
    app_spec = spec("routers_tree:app")
    assert only(app_spec, "/api/outer/middle/leaf/text").endpoint == "routers_tree:leaf_text"
    assert only(app_spec, "/api/outer/middle/leaf/whoami").endpoint == "routers_tree:whoami"


# ---------------------------------------------------------------- example_app


@pytest.fixture(scope="module")
def example() -> AppSpec:
    sys.dont_write_bytecode, previous = True, sys.dont_write_bytecode
    try:
        return spec("example_app.main:app", REPO)
    finally:
        sys.dont_write_bytecode = previous


EXAMPLE_ROUTES = [
    ("docs", ("GET", "HEAD"), "/openapi.json"),
    ("docs", ("GET", "HEAD"), "/docs"),
    ("docs", ("GET", "HEAD"), "/docs/oauth2-redirect"),
    ("docs", ("GET", "HEAD"), "/redoc"),
    ("api", ("GET",), "/users"),
    ("api", ("POST",), "/users"),
    ("api", ("GET",), "/users/{user_id:int}"),
    ("api", ("DELETE",), "/users/{user_id:int}"),
    ("api", ("GET",), "/users/{user_id:int}/avatar"),
    ("api", ("GET",), "/items"),
    ("api", ("POST",), "/items"),
    ("api", ("GET",), "/items/{item_id:int}"),
    ("api", ("PATCH", "PUT"), "/items/{item_id:int}"),
    ("api", ("DELETE",), "/items/{item_id:int}"),
    ("api", ("GET",), "/files"),
    ("api", ("GET",), "/files/{file_path:path}"),
    ("api", ("POST",), "/auth/login"),
    ("api", ("GET",), "/auth/me"),
    ("mount", (), "/static"),
    ("api", ("GET",), "/"),
    ("api", ("GET",), "/health"),
    ("api", ("GET",), "/favicon.ico"),
]


def test_example_app_every_route_in_dispatch_order(example: AppSpec) -> None:
    assert [(r.kind, r.methods, r.path) for r in example.routes] == EXAMPLE_ROUTES


def test_example_app_int_converter(example: AppSpec) -> None:
    route = by_path(example)["/users/{user_id:int}"][0]
    assert route.path_format == "/users/{user_id}"
    assert route.params == (PathParam("user_id", "int"),)
    assert route.endpoint == "example_app.routers.users:get_user"
    assert route.tags == ("users",)


def test_example_app_path_converter(example: AppSpec) -> None:
    route = only(example, "/files/{file_path:path}")
    assert route.path_format == "/files/{file_path}"
    assert route.params == (PathParam("file_path", "path"),)
    assert route.endpoint == "example_app.routers.files:read_file"


def test_example_app_two_method_route_is_one_route(example: AppSpec) -> None:
    (route,) = [r for r in example.routes if r.methods == ("PATCH", "PUT")]
    assert route.path == "/items/{item_id:int}"
    assert route.endpoint == "example_app.routers.items:update_item"
    assert route.key == "PATCH,PUT /items/{item_id:int}"


def test_example_app_static_mount(example: AppSpec) -> None:
    route = only(example, "/static")
    assert route.kind == "mount"
    assert route.methods == ()
    assert route.key == "ANY /static"
    assert route.name == "static"
    assert route.endpoint == "starlette.staticfiles:StaticFiles"
    assert route.assets == ("example_app/static/hello.txt", "example_app/static/pixel.png")


def test_example_app_websocket_is_a_warning_and_not_a_route(example: AppSpec) -> None:
    assert "/ws/echo" not in by_path(example)
    assert example.diagnostics == (
        Diagnostic(
            "warning",
            "WEBSOCKET /ws/echo",
            "websockets are not supported on HTTP APIs; not generated",
        ),
    )


def test_example_app_source_modules_and_files(example: AppSpec) -> None:
    assert example.source_modules == ("example_app",)
    files = example.source_files
    assert "example_app/main.py" in files
    assert "example_app/routers/users.py" in files
    assert "example_app/static/pixel.png" in files
    assert list(files) == sorted(set(files))
    assert not any("__pycache__" in f or f.endswith(".pyc") for f in files)
    assert all(not Path(f).is_absolute() and f.startswith("example_app/") for f in files)


def test_example_app_facts(example: AppSpec) -> None:
    assert example.title == "example_app"
    assert example.version == "1.4.0"
    # Outermost first: @app.middleware("http") was added after CORSMiddleware.
    assert example.middleware == (
        "example_app.hooks:add_version_header",
        "starlette.middleware.cors:CORSMiddleware",
    )
    # An ItemNotFound handler does not replace FastAPI's 404/405 handling.
    assert example.custom_http_error_handlers is False


# ---------------------------------------------------------------- mounts


def test_mounts_are_routes_of_kind_mount() -> None:
    app_spec = spec("mounts:app")
    mounts = [route for route in app_spec.routes if route.kind == "mount"]
    assert [(m.path, m.name, m.methods) for m in mounts] == [
        ("/static", "static", ()),
        ("/sub", "sub", ()),
        ("/raw", "raw", ()),
    ]


def test_static_mount_lists_its_files_relative_to_the_app_dir() -> None:
    assert only(spec("mounts:app"), "/static").assets == ("mounts_static/note.txt",)


def test_sub_app_and_raw_mounts_have_no_assets() -> None:
    app_spec = spec("mounts:app")
    assert only(app_spec, "/sub").assets == ()
    assert only(app_spec, "/raw").assets == ()
    assert only(app_spec, "/sub").endpoint == "fastapi.applications:FastAPI"


def test_sub_app_routes_are_not_flattened_into_the_table() -> None:
    paths = [route.path for route in spec("mounts:app").routes]
    assert "/sub/items/{item_id}" not in paths
    assert paths.count("/sub") == 1


def test_raw_asgi_mount_endpoint_names_the_mounted_function() -> None:
    assert only(spec("mounts:app"), "/raw").endpoint == "mounts:raw_app"


# ---------------------------------------------------------------- inmemory


def memory_warning(where: str, name: str) -> Diagnostic:
    return Diagnostic(
        "warning",
        where,
        f"uses in-memory `{name}` from inmemory; it is not shared between functions "
        "— keep state in a database",
    )


def test_inmemory_warns_once_per_mutable_global_per_route() -> None:
    assert set(spec("inmemory:app").diagnostics) == {
        memory_warning("POST /users/{user_id}", "users_db"),
        memory_warning("POST /users/{user_id}", "events"),
        memory_warning("GET /users/{user_id}", "users_db"),
        memory_warning("GET /events", "events"),
    }
    assert len(spec("inmemory:app").diagnostics) == 4


def test_inmemory_message_format_is_exact() -> None:
    messages = {str(d) for d in spec("inmemory:app").diagnostics}
    assert (
        "warning: GET /users/{user_id}: uses in-memory `users_db` from inmemory; it is not "
        "shared between functions — keep state in a database"
    ) in messages


def test_immutable_constants_are_not_flagged() -> None:
    assert not [d for d in spec("inmemory:app").diagnostics if "/constant" in d.where]


# ---------------------------------------------------------------- closures, lambdas


def test_closure_endpoints_cannot_be_rebuilt_by_reference() -> None:
    """A full function serves them fine; a slim one could not import them by name."""
    app_spec = spec("closure:app")
    assert not app_spec.diagnostics
    for path in ("/greet/{name}", "/bonjour/{name}"):
        route = only(app_spec, path)
        assert route.slim is None
        assert route.not_slim == (
            "endpoint closure:make_greeter.<locals>.greet is a closure made inside "
            "make_greeter(); only module-level names can be imported by a function"
        )


def test_module_level_endpoint_next_to_closures_is_fine() -> None:
    app_spec = spec("closure:app")
    assert only(app_spec, "/plain").endpoint == "closure:plain"
    # Defined in the module that builds the app, though: importing it builds every route.
    assert "is defined in closure, the module that assembles the app" in (
        only(app_spec, "/plain").not_slim
    )


def test_lambda_endpoint_cannot_be_rebuilt_by_reference() -> None:
    app_spec = spec("lambda_endpoint:app")
    route = only(app_spec, "/x")
    assert route.name == "<lambda>"
    assert not app_spec.diagnostics
    assert route.not_slim == (
        "endpoint lambda_endpoint:<lambda> is a lambda; define it with def at module level"
    )


# ---------------------------------------------------------------- settings, nasty


def test_x_fastsplit_settings_are_carried_raw() -> None:
    app_spec = spec("settings:app")
    assert only(app_spec, "/report").settings == {"memory": 1024, "timeout": 60}
    assert only(app_spec, "/renamed").settings == {"name": "custom_name"}
    assert only(app_spec, "/feature").settings == {"environment": {"FEATURE": "on"}}
    assert only(app_spec, "/throttled").settings == {"reserved_concurrency": 5}
    assert only(app_spec, "/defaults").settings == {}


def test_invalid_settings_are_carried_unvalidated() -> None:
    assert only(spec("bad_settings:app"), "/tiny").settings == {"memory": 64}
    assert only(spec("unknown_setting:app"), "/typo").settings == {"memroy": 512}


NASTY_PATHS = [
    "/it's/{item_id}",
    '/say"hi"',
    "/yaml-special/{key}",
    "/template/{value}",
    "/multiline",
    "/symbols/~owner/a@b!c*d&e",
    "/discount/50%",
    "/v1.0/foo-bar/{id}",
    "/report-{year:int}.csv",
    "/café/{name}",
    "/a-b",
    "/a_b",
    "/dup/one",
    "/dup/two",
]


def test_nasty_paths_survive_exactly() -> None:
    app_spec = spec("nasty:app")
    assert [r.path for r in app_spec.routes if r.kind == "api"] == NASTY_PATHS
    assert app_spec.diagnostics == ()


def test_nasty_names_tags_and_metadata_survive_exactly() -> None:
    app_spec = spec("nasty:app")
    yaml_route = only(app_spec, "/yaml-special/{key}")
    assert yaml_route.name == "yes: no # not a comment"
    assert yaml_route.tags == ("admin: internal",)
    template = only(app_spec, "/template/{value}")
    assert template.name == "{{ jinja }} \\back\\slash"
    assert template.summary == "{% if x %}'{{ jinja }}'{% endif %} \\back\\slash"
    assert template.operation_id == "op_{{ jinja }}_\\back\\slash"
    unicode_route = only(app_spec, "/café/{name}")
    assert unicode_route.name == "ünïcödé ✓"
    assert unicode_route.summary == "Grüße, 世界 🚀"
    assert unicode_route.tags == ("ünïcödé",)


def test_parameter_inside_a_segment_is_parsed_with_its_converter() -> None:
    route = only(spec("nasty:app"), "/report-{year:int}.csv")
    assert route.path_format == "/report-{year}.csv"
    assert route.params == (PathParam("year", "int"),)


def test_routes_sharing_a_route_name_stay_distinct() -> None:
    app_spec = spec("nasty:app")
    one, two = only(app_spec, "/dup/one"), only(app_spec, "/dup/two")
    assert one.name == two.name == "dup"
    assert (one.endpoint, two.endpoint) == ("nasty:dup_one", "nasty:dup_two")


# ---------------------------------------------------------------- tiny apps


async def _ok() -> dict[str, str]:
    return {"ok": "yes"}


async def _not_found(request: Request, exc: Exception) -> JSONResponse:
    return JSONResponse({"missing": True}, status_code=404)


host_app = FastAPI()
host_app.router.routes.append(Host("api.example.com", app=FastAPI()))
host_app.add_api_route("/ok", _ok)

root_mount_app = FastAPI(docs_url=None, redoc_url=None, openapi_url=None)
root_mount_app.add_api_route("/ok", _ok)
root_mount_app.mount("/", FastAPI())

handler_404_app = FastAPI()
handler_404_app.add_exception_handler(404, _not_found)

handler_http_app = FastAPI()
handler_http_app.add_exception_handler(StarletteHTTPException, _not_found)

# fastapi.HTTPException subclasses Starlette's; the router raises Starlette's own for
# 404/405, so a handler for the subclass never sees them.
fastapi_http_handler_app = FastAPI()
fastapi_http_handler_app.add_exception_handler(HTTPException, _not_found)

custom_docs_app = FastAPI(docs_url="/help", redoc_url=None, openapi_url="/schema.json")
custom_docs_app.add_api_route("/docs", _ok)
custom_docs_app.add_api_route("/redoc", _ok)


def describe(attribute: str) -> AppSpec:
    module = sys.modules[__name__]
    return describe_app(
        getattr(module, attribute),
        app_ref=f"{__name__}:{attribute}",
        module=module,
        app_dir=HERE,
    )


def test_host_route_is_a_warning_and_not_a_route() -> None:
    app_spec = describe("host_app")
    assert [d for d in app_spec.diagnostics if d.where == "HOST api.example.com"] == [
        Diagnostic(
            "warning",
            "HOST api.example.com",
            "host routes are not supported; not generated (route by domain in API Gateway instead)",
        )
    ]
    assert [r.path for r in app_spec.routes if r.kind == "api"] == ["/ok"]


def test_mount_at_the_root_is_a_warning_and_not_a_route() -> None:
    app_spec = describe("root_mount_app")
    assert [r.path for r in app_spec.routes] == ["/ok"]
    (diagnostic,) = app_spec.diagnostics
    assert (diagnostic.level, diagnostic.where) == ("warning", "MOUNT /")
    assert "mount it under a prefix" in diagnostic.message


@pytest.mark.parametrize("attribute", ["handler_404_app", "handler_http_app"])
def test_custom_404_or_http_exception_handler_is_detected(attribute: str) -> None:
    assert describe(attribute).custom_http_error_handlers is True


def test_handler_for_fastapis_http_exception_subclass_does_not_count() -> None:
    assert describe("fastapi_http_handler_app").custom_http_error_handlers is False


def test_docs_routes_follow_the_apps_docs_urls() -> None:
    kinds = {r.path: r.kind for r in describe("custom_docs_app").routes}
    assert kinds == {
        "/schema.json": "docs",
        "/help": "docs",
        "/docs/oauth2-redirect": "docs",
        # A user route at FastAPI's usual docs path is an ordinary route here.
        "/docs": "api",
        "/redoc": "api",
    }


# ---------------------------------------------------------------- source files


def test_first_party_files_are_found_and_caches_left_out(app_dir: Path) -> None:
    package = app_dir / "srcpkg_demo"
    (package / "__pycache__").mkdir(parents=True)
    (package / "data").mkdir()
    (package / "node_modules").mkdir()
    (package / "__init__.py").write_text("")
    (package / "main.py").write_text(
        textwrap.dedent(
            """
            from fastapi import FastAPI

            import srcpkg_helper

            app = FastAPI()


            @app.get("/v")
            def version() -> dict[str, str]:
                return {"v": srcpkg_helper.VERSION}
            """
        )
    )
    (app_dir / "srcpkg_helper.py").write_text('VERSION = "1"\n')
    (app_dir / "unrelated.py").write_text("")
    (package / "data" / "config.json").write_text("{}")
    (package / "__pycache__" / "main.cpython-311.pyc").write_bytes(b"\0")
    (package / "stale.pyc").write_bytes(b"\0")
    (package / ".env").write_text("SECRET=1\n")
    (package / "node_modules" / "x.js").write_text("")

    app_spec = load_app_spec("srcpkg_demo.main:app", app_dir=app_dir)

    assert app_spec.source_modules == ("srcpkg_demo", "srcpkg_helper.py")
    assert app_spec.source_files == (
        "srcpkg_demo/__init__.py",
        "srcpkg_demo/data/config.json",
        "srcpkg_demo/main.py",
        "srcpkg_helper.py",
    )


# ---------------------------------------------------------------- import errors


@pytest.mark.parametrize("app_ref", ["nope", "a:b:c", "mod:", ":app", "my-app:app", "a..b:app"])
def test_bad_app_format_is_a_one_line_error(app_ref: str) -> None:
    message = import_error(app_ref)
    assert message == f"APP {app_ref!r} must look like 'module:attribute', e.g. 'app.main:app'"


def test_unknown_module_is_an_error() -> None:
    message = import_error("no_such_module_here:app")
    assert "cannot import module 'no_such_module_here'" in message
    assert "no such module; check the name or pass --app-dir" in message


def test_unknown_submodule_is_an_error() -> None:
    assert "cannot import module 'minimal.nope'" in import_error("minimal.nope:app")


def test_missing_attribute_is_an_error() -> None:
    message = import_error("minimal:application")
    assert "module 'minimal' has no attribute 'application'" in message
    assert "check APP 'minimal:application'" in message


def test_object_that_is_not_an_app_is_an_error() -> None:
    message = import_error("not_an_app:app")
    assert "'not_an_app:app' is a dict, not a FastAPI or Starlette app" in message


def test_import_raising_names_the_error_and_the_users_line() -> None:
    message = import_error("bad_import:app")
    assert message.startswith("importing 'bad_import' failed: RuntimeError: ")
    assert "DATABASE_URL is not set" in message
    assert "bad_import.py, line 8" in message
    assert message.endswith("fix the app and retry")


def test_missing_dependency_of_the_app_is_not_reported_as_a_missing_app(app_dir: Path) -> None:
    (app_dir / "needs_dep_app.py").write_text("import no_such_dependency_xyz\n")
    message = import_error("needs_dep_app:app", app_dir)
    assert "ModuleNotFoundError: No module named 'no_such_dependency_xyz'" in message
    assert "needs_dep_app.py, line 1" in message


def test_syntax_error_in_the_app_is_a_one_line_error(app_dir: Path) -> None:
    (app_dir / "broken_syntax_app.py").write_text("def oops(:\n")
    assert "SyntaxError" in import_error("broken_syntax_app:app", app_dir)


def test_multiline_exception_message_becomes_one_line(app_dir: Path) -> None:
    (app_dir / "multiline_error_app.py").write_text(
        'raise ValueError("2 validation errors\\ndatabase_url\\n  Field required")\n'
    )
    import_error("multiline_error_app:app", app_dir)


def test_app_dir_that_does_not_exist_is_an_error(tmp_path: Path) -> None:
    missing = tmp_path / "missing"
    message = import_error("minimal:app", missing)
    assert f"--app-dir {missing} is not a folder" in message


def test_app_dir_that_is_a_file_is_an_error(tmp_path: Path) -> None:
    file = tmp_path / "file.py"
    file.write_text("")
    assert "is not a folder" in import_error("minimal:app", file)


def test_import_errors_are_not_chained_tracebacks() -> None:
    with pytest.raises(AppImportError) as info:
        load_app_spec("bad_import:app", app_dir=APPS)
    assert info.value.__cause__ is None
    assert info.value.__suppress_context__ is True
