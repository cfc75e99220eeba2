"""The real deploy tools accept what `fastsplit build` writes, offline.

- `osls package` (Serverless Framework v3 fork) with `configValidationMode: error`;
- `sam validate --lint` and `cfn-lint` on the SAM template;
- serverless-offline serves the generated handlers over real HTTP, and real requests get
  the monolith's answers.
"""

from __future__ import annotations

import importlib
import json
import shutil
import sys
import zipfile
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import yaml
from fastapi.testclient import TestClient

from tests.conftest import APPS, REPO, build_to
from tests.e2e import Answer, Case, http_answer
from tests.test_e2e_events import CASES
from tests.tooling import (
    cfn_lint,
    describe,
    isolated_env,
    run_osls_package,
    sam_validate,
    serverless_offline,
)

pytestmark = [pytest.mark.tools, pytest.mark.xdist_group("deploy-tools")]

APPS_TO_VALIDATE = {
    "example_app": ("example_app.main:app", REPO),
    "nasty": ("nasty:app", APPS),
    "settings": ("settings:app", APPS),
    "mounts": ("mounts:app", APPS),
    "routers_tree": ("routers_tree:app", APPS),
}


@pytest.fixture(params=sorted(APPS_TO_VALIDATE))
def built(request: pytest.FixtureRequest, tmp_path: Path) -> Path:
    app_ref, app_dir = APPS_TO_VALIDATE[request.param]
    return build_to(tmp_path / "build", app_ref, app_dir)


def test_osls_package_accepts_serverless_yml(built: Path, tmp_path: Path) -> None:
    result = run_osls_package(built, isolated_env(tmp_path))
    assert result.returncode == 0, describe(result)
    manifest = json.loads((built / "manifest.json").read_text())
    artifacts = built / ".serverless"
    for function in manifest["functions"]:
        # package.individually: each zip holds exactly its own function folder.
        with zipfile.ZipFile(artifacts / f"{function['name']}.zip") as archive:
            names = set(archive.namelist())
        expected = {f"{function['folder']}/{name}" for name in function["files"]}
        assert names == expected, function["name"]
    template = json.loads((artifacts / "cloudformation-template-update-stack.json").read_text())
    resources = template["Resources"]
    routes = {
        resource["Properties"]["RouteKey"]
        for resource in resources.values()
        if resource["Type"] == "AWS::ApiGatewayV2::Route"
    }
    expected_routes = {
        "$default" if event["path"] == "$default" else f"{event['method']} {event['path']}"
        for function in manifest["functions"]
        for event in function["events"]
    }
    assert routes == {r.replace("ANY ", "ANY ") for r in expected_routes}


def test_osls_rejects_an_invalid_generated_file(tmp_path: Path) -> None:
    """The validation is real: the same build with one unknown property fails."""
    built = build_to(tmp_path / "build", "minimal:app", APPS)
    config = yaml.safe_load((built / "serverless.yml").read_text())
    config["functions"]["get_hello"]["events"][0]["httpApi"]["colour"] = "blue"
    (built / "serverless.yml").write_text(yaml.safe_dump(config))
    result = run_osls_package(built, isolated_env(tmp_path))
    assert result.returncode != 0
    assert "Configuration error" in result.stdout + result.stderr


def test_sam_validate_and_cfn_lint_accept_template(built: Path, tmp_path: Path) -> None:
    env = isolated_env(tmp_path)
    result = sam_validate(built / "template.yaml", env)
    assert result.returncode == 0, describe(result)
    result = cfn_lint(built / "template.yaml", env)
    assert result.returncode == 0, describe(result)


def test_template_runtimes_and_methods_are_valid(built: Path) -> None:
    """What cfn-lint does not check: the runtime and every event method."""
    template = yaml.safe_load((built / "template.yaml").read_text())
    assert template["Globals"]["Function"]["Runtime"] in {
        f"python3.{minor}" for minor in range(10, 15)
    }
    methods = {"GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS", "ANY"}
    for resource in template["Resources"].values():
        for event in resource.get("Properties", {}).get("Events", {}).values():
            assert event["Properties"]["Method"] in methods


# --- serverless-offline ------------------------------------------------------------------


@pytest.fixture
def offline_service(example_build: Path, tmp_path: Path) -> Path:
    """A copy of the example build with the serverless-offline plugin enabled."""
    service = tmp_path / "service"
    shutil.copytree(example_build, service)
    config = yaml.safe_load((service / "serverless.yml").read_text())
    config["plugins"] = ["serverless-offline"]
    (service / "serverless.yml").write_text(yaml.safe_dump(config, sort_keys=False))
    return service


@pytest.fixture
def monolith(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[TestClient]:
    monkeypatch.setenv("EXAMPLE_APP_DB", str(tmp_path / "monolith.sqlite3"))
    module = importlib.import_module("example_app.main")
    with TestClient(module.app, raise_server_exceptions=False) as client:
        yield client


# serverless-offline's own HTTP server (hapi) adds or rewrites these, not the function:
# it may gzip, adds accept-ranges, and re-serialises cookies (adding Expires).
SERVER_HEADERS = (
    "date",
    "connection",
    "keep-alive",
    "transfer-encoding",
    "accept-ranges",
    "content-encoding",
    "content-length",
)


def _cookie(value: str) -> tuple[str, frozenset[str]]:
    name_value, *attributes = (part.strip() for part in value.split(";"))
    kept = frozenset(a.lower() for a in attributes if not a.lower().startswith("expires="))
    return name_value, kept


def _comparable(answer: Answer, case: Case) -> dict[str, object]:
    headers = {
        name: values for name, values in answer.headers.items() if name not in SERVER_HEADERS
    }
    # Redirects name the host the client used; compare the path part.
    if "location" in headers:
        headers["location"] = [v.split("://", 1)[-1].partition("/")[2] for v in headers["location"]]
    if answer.status in (204, 307):
        headers.pop("content-type", None)
    if "vary" in headers:
        headers["vary"] = [v.removesuffix(",accept-encoding") for v in headers["vary"]]
    if headers.get("content-type") == ["application/json; charset=utf-8"]:
        headers["content-type"] = ["application/json"]
    comparable = Answer(answer.status, headers, [], answer.body).for_format("http", case.method)
    comparable["cookies"] = sorted(_cookie(c) for c in answer.cookies)
    return comparable


# Requests serverless-offline cannot carry like API Gateway (see tests/tooling.py): it keeps
# only the last of repeated headers, answers unmatched routes with its own 404 instead of
# the $default route, and adds its own CORS headers to preflights; those cases are
# exercised against the handlers directly (test_e2e_events.py).
OFFLINE_SKIPPED = {
    "GET /nope",
    "POST /items/5",
    "HEAD /users/1",
    "GET /users/",
    "GET /static",
    "OPTIONS /items",
}


def test_serverless_offline_serves_the_split_like_the_monolith(
    offline_service: Path, tmp_path: Path, monolith: TestClient
) -> None:
    env = isolated_env(tmp_path)
    env["EXAMPLE_APP_DB"] = str(tmp_path / "split.sqlite3")
    mismatches = []
    with (
        serverless_offline(offline_service, env, python_bin_dir=Path(sys.executable).parent) as url,
        httpx.Client(base_url=url, timeout=30) as client,
    ):
        for case in CASES:
            if case.label in OFFLINE_SKIPPED or len({n for n, _ in case.headers}) < len(
                case.headers
            ):
                continue
            request = {
                "method": case.method,
                "url": case.path,
                "params": list(case.query),
                "headers": list(case.headers),
                "content": case.body or None,
            }
            got = http_answer(client.request(**request))
            expected = _answer_from_testclient(monolith, request)
            if "cache-control" not in expected.headers:
                # hapi's default for answers that set no cache policy.
                got.headers.pop("cache-control", None)
            got_c = _comparable(got, case)
            expected_c = _comparable(expected, case)
            if got_c != expected_c:
                mismatches.append(f"{case.label}:\n  offline  {got_c}\n  monolith {expected_c}")
    assert not mismatches, "\n".join(mismatches)


def _answer_from_testclient(client: TestClient, request: dict[str, object]) -> Answer:
    response = client.request(follow_redirects=False, **request)  # type: ignore[arg-type]
    return http_answer(response)
