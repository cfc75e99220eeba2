"""The test-suite's deploy tools (tests/tooling.py) against a small hand-written service.

The service has what fastsplit generates: a serverless.yml with per-function handlers
under functions/, and a SAM template.yaml. These tests pin down how the real tools treat
it, so the generator's own tests can rely on the helpers.
"""

from __future__ import annotations

import http.client
import json
import subprocess
import sys
import time
import zipfile
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from tests.tooling import (
    CLIENT_IP,
    ToolError,
    _sample,
    cfn_lint,
    describe,
    generate_event,
    isolated_env,
    processes_in,
    run_osls_package,
    sam_validate,
    serverless_offline,
    tools_dir,
)

pytestmark = pytest.mark.tools

SERVERLESS_YML = """\
service: tooling-smoke
configValidationMode: error
provider:
  name: aws
  runtime: python3.12
  stage: dev
  region: us-east-1
package:
  individually: true
plugins:
  - serverless-offline
functions:
  foo:
    handler: functions/foo/handler.handler
    events:
      - httpApi:
          method: GET
          path: /foo/{id}
  bar:
    handler: functions/bar/handler.handler
    events:
      - httpApi:
          method: POST
          path: /bar
  rest:
    handler: functions/foo/handler.handler
    events:
      - http:
          method: GET
          path: /rest/{id}
"""

# Echoes the event and how the handler module was imported: a fixed proxy response.
HANDLER_PY = """\
import json
import os
import sys

try:
    import sibling  # noqa: F401
    PLAIN_IMPORT = "ok"
except ImportError as error:
    PLAIN_IMPORT = type(error).__name__

try:
    from . import sibling as relative_sibling  # noqa: F401
    RELATIVE_IMPORT = "ok"
except ImportError as error:
    RELATIVE_IMPORT = type(error).__name__


def handler(event, context):
    report = {
        "event": event,
        "name": __name__,
        "cwd": os.getcwd(),
        "sys_path": sys.path,
        "executable": sys.executable,
        "plain_import": PLAIN_IMPORT,
        "relative_import": RELATIVE_IMPORT,
    }
    return {
        "statusCode": 200,
        "headers": {"content-type": "application/json"},
        "body": json.dumps(report),
    }
"""

TEMPLATE_YAML = """\
AWSTemplateFormatVersion: "2010-09-09"
Transform: AWS::Serverless-2016-10-31
Description: tooling smoke test
Resources:
  FooFunction:
    Type: AWS::Serverless::Function
    Properties:
      Runtime: python3.12
      Handler: handler.handler
      CodeUri: functions/foo/
      Events:
        GetFoo:
          Type: HttpApi
          Properties:
            Method: GET
            Path: /foo/{id}
"""


# A function whose code exists only in its artifact zip (handler at the zip's root).
ARTIFACT_SERVERLESS_YML = """\
service: artifacts
configValidationMode: error
provider:
  name: aws
  runtime: python3.12
package:
  individually: true
plugins:
  - serverless-offline
functions:
  foo:
    handler: handler.handler
    timeout: 1
    package:
      artifact: dist/foo.zip
    events:
      - httpApi:
          method: GET
          path: /foo
"""


def write_service(root: Path) -> Path:
    """The hand-written service (serverless.yml, template.yaml, two handler folders)."""
    root.mkdir(parents=True, exist_ok=True)
    (root / "serverless.yml").write_text(SERVERLESS_YML)
    (root / "template.yaml").write_text(TEMPLATE_YAML)
    for name in ("foo", "bar"):
        (root / "functions" / name).mkdir(parents=True)
        (root / "functions" / name / "handler.py").write_text(HANDLER_PY)
    (root / "functions" / "foo" / "sibling.py").write_text("VALUE = 1\n")
    return root


def tree(root: Path) -> list[str]:
    return sorted(str(path.relative_to(root)) for path in root.rglob("*"))


@pytest.fixture
def service(tmp_path: Path) -> Path:
    return write_service(tmp_path / "service")


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    return isolated_env(tmp_path)


# --- installation and environment ---------------------------------------------------------


def test_tools_are_installed() -> None:
    root = tools_dir()
    for relative in ("node_modules/.bin/osls", "sam-venv/bin/sam", "sam-venv/bin/cfn-lint"):
        assert (root / relative).exists(), relative


def test_missing_tools_say_to_run_make_tools(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FASTSPLIT_TOOLS_DIR", str(tmp_path / "nowhere"))
    with pytest.raises(ToolError, match="Run `make tools`"):
        tools_dir()


def test_isolated_env_points_home_into_tmp_and_fakes_aws(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AWS_PROFILE", "production")
    env = isolated_env(tmp_path)
    assert Path(env["HOME"]).is_dir()
    assert Path(env["HOME"]).is_relative_to(tmp_path)
    assert Path(env["npm_config_cache"]).is_relative_to(tmp_path)
    assert "AWS_PROFILE" not in env
    assert env["AWS_ACCESS_KEY_ID"] == "testing"
    assert env["AWS_DEFAULT_REGION"] == "us-east-1"
    assert env["SLS_TELEMETRY_DISABLED"] == "1"
    assert env["SAM_CLI_TELEMETRY"] == "0"


# --- osls package, sam validate, cfn-lint -------------------------------------------------


def test_osls_package_accepts_valid_service(service: Path, env: dict[str, str]) -> None:
    result = run_osls_package(service, env)
    assert result.returncode == 0, describe(result)
    artifacts = service / ".serverless"
    assert {"foo.zip", "bar.zip", "rest.zip"} <= {path.name for path in artifacts.iterdir()}
    template = json.loads((artifacts / "cloudformation-template-update-stack.json").read_text())
    assert template["Resources"]["FooLambdaFunction"]["Properties"]["Runtime"] == "python3.12"
    # Plugins resolve from osls's own node_modules: nothing was linked into the service.
    assert not (service / "node_modules").exists()


def test_osls_package_rejects_unknown_property(service: Path, env: dict[str, str]) -> None:
    config = service / "serverless.yml"
    config.write_text(
        config.read_text().replace("method: POST", "method: POST\n          bogus: 1")
    )
    result = run_osls_package(service, env)
    assert result.returncode == 1, describe(result)
    assert (
        "Configuration error at 'functions.bar.events.0.httpApi': unrecognized property 'bogus'"
        in result.stdout
    ), describe(result)


TemplateCheck = Callable[[Path, dict[str, str]], subprocess.CompletedProcess[str]]


@pytest.mark.parametrize("check", [sam_validate, cfn_lint], ids=["sam-validate", "cfn-lint"])
def test_sam_template_checks(check: TemplateCheck, service: Path, env: dict[str, str]) -> None:
    template = service / "template.yaml"
    valid = check(template, env)
    assert valid.returncode == 0, describe(valid)

    template.write_text(
        TEMPLATE_YAML.replace("Runtime: python3.12", "Runtime: python3.12\n      Bogus: 1")
    )
    invalid = check(template, env)
    assert invalid.returncode != 0, describe(invalid)
    assert "E3002" in invalid.stdout + invalid.stderr
    assert "Bogus" in invalid.stdout + invalid.stderr


# --- generate_event -----------------------------------------------------------------------


def test_generate_event_http_api_payload_2() -> None:
    event = generate_event(
        "http",
        method="post",
        path="/users/42",
        route="/users/{id}",
        headers=[("X-Multi", "1"), ("x-multi", "2"), ("Content-Type", "application/json")],
        query={"tag": ["a", "b"], "q": "x y"},
        body='{"k": 1}',
        cookies={"session": "s1"},
    )
    assert event["version"] == "2.0"
    assert event["routeKey"] == event["requestContext"]["routeKey"] == "POST /users/{id}"
    assert event["rawPath"] == "/users/42"
    assert event["rawQueryString"] == "tag=a&tag=b&q=x%20y"
    assert event["queryStringParameters"] == {"tag": "a,b", "q": "x y"}
    assert event["pathParameters"] == {"id": "42"}
    assert event["cookies"] == ["session=s1"]
    headers = event["headers"]
    assert headers["x-multi"] == "1,2"
    assert "cookie" not in headers
    assert headers["content-length"] == "8"
    assert headers["x-forwarded-for"] == CLIENT_IP
    assert all(name == name.lower() for name in headers)
    assert event["requestContext"]["http"]["method"] == "POST"
    assert event["requestContext"]["http"]["path"] == "/users/42"
    assert event["body"] == '{"k": 1}'
    assert event["isBase64Encoded"] is False
    # The sample's authorizer, client certificate and stage variables are gone.
    assert "authorizer" not in event["requestContext"]
    assert "authentication" not in event["requestContext"]
    assert "stageVariables" not in event


def test_generate_event_http_api_minimal_get() -> None:
    event = generate_event("http", method="GET", path="/health")
    assert event["routeKey"] == "$default"
    assert event["rawQueryString"] == ""
    for absent in ("body", "cookies", "queryStringParameters", "pathParameters"):
        assert absent not in event


def test_generate_event_rest_api_payload_1() -> None:
    event = generate_event(
        "rest",
        method="GET",
        path="/users/42",
        route="/users/{id}",
        stage="dev",
        headers=[("X-Multi", "1"), ("X-Multi", "2")],
        query=[("tag", "a"), ("tag", "b")],
        cookies={"session": "s1"},
    )
    assert event["httpMethod"] == "GET"
    assert event["resource"] == event["requestContext"]["resourcePath"] == "/users/{id}"
    assert event["path"] == "/users/42"
    assert event["requestContext"]["path"] == "/dev/users/42"
    assert event["requestContext"]["stage"] == "dev"
    assert event["pathParameters"] == {"id": "42"}
    assert event["stageVariables"] is None
    assert event["headers"]["X-Multi"] == "2"
    assert event["multiValueHeaders"]["X-Multi"] == ["1", "2"]
    assert event["headers"]["Cookie"] == "session=s1"
    assert event["headers"]["Host"] == event["requestContext"]["domainName"]
    assert "User-Agent" not in event["headers"]  # the sample browser's headers are gone
    assert event["queryStringParameters"] == {"tag": "b"}
    assert event["multiValueQueryStringParameters"] == {"tag": ["a", "b"]}
    assert event["body"] is None
    assert event["isBase64Encoded"] is False


def test_generate_event_alb_multi_value() -> None:
    event = generate_event(
        "alb",
        method="PUT",
        path="/files/a",
        query={"name": "a b&c"},
        headers={"Content-Type": "application/octet-stream"},
        body=b"\x00\xff",
    )
    assert "headers" not in event
    assert "queryStringParameters" not in event
    assert event["httpMethod"] == "PUT"
    assert event["path"] == "/files/a"
    assert event["multiValueQueryStringParameters"] == {"name": ["a%20b%26c"]}
    assert event["multiValueHeaders"]["content-type"] == ["application/octet-stream"]
    assert event["multiValueHeaders"]["x-forwarded-for"] == [CLIENT_IP]
    assert event["isBase64Encoded"] is True
    assert event["body"] == "AP8="
    assert "elb" in event["requestContext"]


def test_generate_event_runs_sam_once_per_kind() -> None:
    generate_event("http", method="GET", path="/")
    before = _sample.cache_info()
    first = generate_event("http", method="GET", path="/a")
    first["headers"]["mutated"] = "yes"  # callers own their copy
    second = generate_event("http", method="GET", path="/a")
    after = _sample.cache_info()
    assert after.misses == before.misses
    assert after.hits == before.hits + 2
    assert "mutated" not in second["headers"]


def test_generate_event_rejects_inconsistent_requests() -> None:
    with pytest.raises(ValueError, match="does not match route"):
        generate_event("http", method="GET", path="/users", route="/users/{id}")
    with pytest.raises(ValueError, match="must start with"):
        generate_event("rest", method="GET", path="users/1")
    with pytest.raises(ValueError, match="stage"):
        generate_event("http", method="GET", path="/", stage="dev")


# --- serverless-offline -------------------------------------------------------------------


def python_bin(root: Path) -> Path:
    """A folder holding only a ``python3`` link to this interpreter."""
    root.mkdir(parents=True)
    (root / "python3").symlink_to(sys.executable)
    return root


class Offline:
    """A running serverless-offline server and what the tests need to talk to it."""

    def __init__(self, url: str, service: Path, python_dir: Path) -> None:
        self.url = url
        self.service = service
        self.python_dir = python_dir

    def request(
        self,
        method: str,
        target: str,
        headers: Sequence[tuple[str, str]] = (),
        body: bytes | None = None,
    ) -> tuple[int, dict[str, Any]]:
        """Send one request (repeated header names allowed); the status and JSON body."""
        url = urlsplit(self.url)
        connection = http.client.HTTPConnection(url.hostname or "", url.port, timeout=30)
        try:
            connection.putrequest(method, target)
            for name, value in headers:
                connection.putheader(name, value)
            if body is not None:
                connection.putheader("Content-Length", str(len(body)))
            connection.endheaders(body)
            response = connection.getresponse()
            return response.status, json.loads(response.read())
        finally:
            connection.close()


# Keeps the tests that share one server on one xdist worker (`--dist loadgroup`).
shares_offline = pytest.mark.xdist_group("serverless-offline")


@pytest.fixture(scope="module")
def offline(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Offline]:
    root = tmp_path_factory.mktemp("offline")
    service = write_service(root / "service")
    python_dir = python_bin(root / "bin")
    env = isolated_env(root)
    env["VIRTUAL_ENV"] = str(root / "not-a-venv")  # must not win over python_dir
    with serverless_offline(service, env, python_bin_dir=python_dir, timeout=60) as url:
        yield Offline(url, service, python_dir)


@shares_offline
def test_offline_http_api_event_is_payload_2(offline: Offline) -> None:
    status, report = offline.request(
        "GET",
        "/foo/42?a=1&a=2&b=x%20y",
        [("X-Multi", "1"), ("X-Multi", "2"), ("Cookie", "c1=v1; c2=v2")],
    )
    assert status == 200
    event = report["event"]
    assert event["version"] == "2.0"
    assert event["routeKey"] == "GET /foo/{id}"
    assert event["rawPath"] == "/foo/42"
    assert event["pathParameters"] == {"id": "42"}
    assert event["queryStringParameters"] == {"a": "1,2", "b": "x y"}
    assert event["cookies"] == ["c1=v1", "c2=v2"]
    assert event["requestContext"]["http"]["method"] == "GET"
    assert event["requestContext"]["stage"] == "$default"
    # Where serverless-offline differs from API Gateway (see the notes in tooling.py):
    assert event["headers"]["x-multi"] == "2"  # AWS: "1,2"
    assert event["headers"]["cookie"] == "c1=v1; c2=v2"  # AWS: no cookie header
    assert event["rawQueryString"] == "a=1&a=2&b=x+y"  # AWS: as sent


@shares_offline
def test_offline_http_event_is_rest_payload_1(offline: Offline) -> None:
    status, report = offline.request(
        "GET", "/rest/42?a=1&a=2", [("X-Multi", "1"), ("X-Multi", "2")]
    )
    assert status == 200
    event = report["event"]
    assert "version" not in event
    assert event["resource"] == "/rest/{id}"
    assert event["httpMethod"] == "GET"
    assert event["path"] == "/rest/42"
    assert event["pathParameters"] == {"id": "42"}
    assert event["queryStringParameters"] == {"a": "2"}
    assert event["multiValueQueryStringParameters"] == {"a": ["1", "2"]}
    assert event["headers"]["X-Multi"] == "2"
    assert event["multiValueHeaders"]["X-Multi"] == ["1", "2"]
    assert event["requestContext"]["stage"] == "dev"
    assert event["requestContext"]["path"] == "/rest/42"  # AWS: "/dev/rest/42"


@shares_offline
def test_offline_bodies(offline: Offline) -> None:
    text = [("Content-Type", "application/json")]
    status, report = offline.request("POST", "/bar", text, b'{"k": 1}')
    assert status == 200
    assert report["event"]["body"] == '{"k": 1}'
    assert report["event"]["isBase64Encoded"] is False

    binary = [("Content-Type", "application/octet-stream")]
    status, report = offline.request("POST", "/bar", binary, bytes([0, 255]))
    assert status == 200
    assert report["event"]["body"] == "AP8="
    assert report["event"]["isBase64Encoded"] is True


@shares_offline
def test_offline_handler_import_path(offline: Offline) -> None:
    _, report = offline.request("GET", "/foo/1")
    assert report["name"] == "functions.foo.handler"
    assert report["cwd"] == str(offline.service)
    assert report["sys_path"][0].endswith(
        "serverless-offline/src/lambda/handler-runner/python-runner"
    )
    assert report["sys_path"][-1] == "."
    assert report["plain_import"] == "ModuleNotFoundError"
    assert report["relative_import"] == "ok"
    assert report["executable"] == str(offline.python_dir / "python3")


@shares_offline
def test_offline_unknown_route_gets_its_404(offline: Offline) -> None:
    status, body = offline.request("GET", "/nope")
    assert status == 404
    assert body["error"] == "Serverless-offline: route not found."


def test_offline_stops_without_leftovers(tmp_path: Path, env: dict[str, str]) -> None:
    service = write_service(tmp_path / "service")
    before = tree(service)
    python_dir = python_bin(tmp_path / "bin")
    started = time.monotonic()
    with serverless_offline(service, env, python_bin_dir=python_dir, timeout=60) as url:
        status, _ = Offline(url, service, python_dir).request("GET", "/foo/1")
        assert status == 200
        assert processes_in(service)  # osls and the handler process
    assert time.monotonic() - started < 60
    assert processes_in(service) == []
    assert tree(service) == before  # no .serverless/, no __pycache__, no node_modules


def test_offline_start_failure_reports_output(tmp_path: Path, env: dict[str, str]) -> None:
    service = write_service(tmp_path / "service")
    config = service / "serverless.yml"
    config.write_text(
        config.read_text().replace("method: GET", "method: GET\n          bogus: 1", 1)
    )
    python_dir = python_bin(tmp_path / "bin")
    with (
        pytest.raises(ToolError, match="unrecognized property 'bogus'"),
        serverless_offline(service, env, python_bin_dir=python_dir, timeout=60),
    ):
        pass
    assert processes_in(service) == []


def test_offline_requires_python3_in_bin_dir(
    service: Path, env: dict[str, str], tmp_path: Path
) -> None:
    empty = tmp_path / "empty-bin"
    empty.mkdir()
    with (
        pytest.raises(ToolError, match="python3"),
        serverless_offline(service, env, python_bin_dir=empty),
    ):
        pass


def test_offline_ignores_artifacts_for_python(tmp_path: Path, env: dict[str, str]) -> None:
    """With ``package.artifact`` the zip is unpacked but the handler is still imported
    from the service folder: code that exists only in the zip never runs."""
    service = tmp_path / "service"
    (service / "dist").mkdir(parents=True)
    with zipfile.ZipFile(service / "dist" / "foo.zip", "w") as archive:
        archive.writestr("handler.py", HANDLER_PY)
    (service / "serverless.yml").write_text(ARTIFACT_SERVERLESS_YML)
    python_dir = python_bin(tmp_path / "bin")
    with serverless_offline(service, env, python_bin_dir=python_dir) as url:
        _, body = Offline(url, service, python_dir).request("GET", "/foo")
    assert body["errorType"] == "LambdaTimeoutError"
    assert (service / ".serverless-offline" / "services" / "artifacts" / "foo").is_dir()
