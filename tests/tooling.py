"""Drive the real deploy tools from tests: osls, serverless-offline, AWS SAM CLI, cfn-lint.

``make tools`` installs them from pinned files (tools/) into ``.tools/``; nothing here
installs anything. Every tool runs under ``unshare --net`` (a network namespace with no
interfaces up, or only loopback for serverless-offline), so nothing can leave the machine
whatever the tool tries, with HOME and the caches pointed at a temp folder
(:func:`isolated_env`).

What serverless-offline 14.8.2 under osls 4.3.1 actually does with Python handlers
(tests/test_tooling.py checks these points against the real tools):

* Import path. For ``handler: functions/foo/handler.handler`` it starts (at the function's
  first request, then keeps) one ``/bin/sh -c "python3 -u <node_modules>/serverless-offline/
  src/lambda/handler-runner/python-runner/invoke.py functions/foo/handler handler"`` per
  function, with the cwd set to the service folder. ``invoke.py`` *appends* ``"."`` to
  sys.path and imports the dotted module ``functions.foo.handler`` (namespace packages: no
  ``__init__.py`` needed). So ``sys.path[0]`` is invoke.py's own folder inside node_modules,
  the service folder is the *last* entry (``"."``), ``__name__`` is ``functions.foo.handler``
  and ``os.getcwd()`` is the service folder. A ``sibling.py`` next to handler.py can NOT be
  imported as ``import sibling`` without a sys.path change (ModuleNotFoundError);
  ``from . import sibling`` and ``import functions.foo.sibling`` work. Lambda itself imports
  the same dotted name relative to the artifact root (/var/task, on sys.path), so a handler
  string that is the same path in the service folder and in the zip behaves alike in both;
  a handler at the zip's root (``handler.handler``) is a top-level module on Lambda, where
  ``import sibling`` works and ``from . import`` fails. Since "." is last, a package in the
  interpreter's site-packages named like a top folder of the service (``functions``...)
  would shadow it.
* ``package.artifact`` is NOT used for Python: serverless-offline unzips the artifact into
  ``<service>/.serverless-offline/services/<service>/<function>/<uuid>/code`` (and leaves
  those folders behind), but still imports the handler relative to the service folder. With
  ``handler: handler.handler`` and the code only inside the zip, the import fails, the
  Python process dies and the request ends as a 504 "Lambda timeout" JSON after the
  function's timeout. The handler path must exist in the service folder itself.
* Interpreter. ``python3`` is looked up on PATH, after prepending ``$VIRTUAL_ENV/bin`` if
  VIRTUAL_ENV is set; the runtime's minor version is ignored. :func:`serverless_offline`
  drops VIRTUAL_ENV and puts ``python_bin_dir`` first on PATH.
* Events. ``httpApi`` events arrive as payload 2.0 (``version: "2.0"``, ``routeKey`` "GET
  /foo/{id}", ``rawPath``, ``rawQueryString``, ``cookies``, ``pathParameters``), ``http``
  events as REST payload 1.0 (``resource``, ``httpMethod``, ``headers`` +
  ``multiValueHeaders``, ``queryStringParameters`` + ``multiValueQueryStringParameters``,
  ``requestContext.stage`` "dev"). Where it differs from the real API Gateway: in 2.0 a
  repeated header keeps only its last value (AWS comma-joins them), the ``cookie`` header
  stays in ``headers`` besides ``cookies`` (AWS removes it), ``rawQueryString`` is
  re-encoded (a space becomes ``+``) and requestContext ids are ``offlineContext_*``
  placeholders; in 1.0 ``requestContext.path`` has no stage prefix (with
  ``--noPrependStageInUrl``). Unknown routes get its own 404 JSON.
* Config. Ports and host go on the command line (they override any
  ``custom.serverless-offline`` block), so a generated serverless.yml needs no such block;
  it must list ``serverless-offline`` under ``plugins`` for the ``offline`` command to exist.
  Plugins resolve from osls's own node_modules: the service folder needs no
  ``node_modules`` (a symlinked one would even be zipped into every artifact by
  ``osls package``: 47 MB each and 30 s instead of 1.5 s).
"""

from __future__ import annotations

import base64
import copy
import ctypes
import functools
import http.client
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from concurrent.futures import BrokenExecutor, ThreadPoolExecutor
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any, Final, Literal
from urllib.parse import quote, urlencode

EventKind = Literal["http", "rest", "alb"]
Env = Mapping[str, str]
Headers = Mapping[str, str] | Iterable[tuple[str, str]]
Query = Mapping[str, str | Sequence[str]] | Iterable[tuple[str, str]]

REPO_ROOT: Final = Path(__file__).resolve().parent.parent

#: Environment that keeps every tool from phoning home or prompting.
TELEMETRY_OFF: Final[Mapping[str, str]] = {
    "SLS_TELEMETRY_DISABLED": "1",
    "SLS_NOTIFICATIONS_MODE": "off",
    "SAM_CLI_TELEMETRY": "0",
    "AWS_EC2_METADATA_DISABLED": "true",
    "VERCEL_TELEMETRY_DISABLED": "1",
    "DO_NOT_TRACK": "1",
    "npm_config_update_notifier": "false",
    "npm_config_fund": "false",
    "npm_config_audit": "false",
}

#: The client address every generated event claims (TEST-NET-2, RFC 5737).
CLIENT_IP: Final = "198.51.100.7"
_TRACE_ID: Final = "Root=1-65f0a1b2-0123456789abcdef01234567"

# Ports inside serverless-offline's own network namespace: nothing else lives there, so
# fixed ports never collide; the host side gets a kernel-chosen free port instead.
_OFFLINE_PORTS: Final = {
    "httpPort": 3000,
    "websocketPort": 3001,
    "lambdaPort": 3002,
    "albPort": 3003,
}


class ToolError(RuntimeError):
    """A deploy tool is missing, failed to start, or did not answer in time."""


# --- locating and running the tools -------------------------------------------------------


def tools_dir() -> Path:
    """The ``.tools/`` folder that ``make tools`` fills (``$FASTSPLIT_TOOLS_DIR`` overrides)."""
    path = Path(os.environ.get("FASTSPLIT_TOOLS_DIR") or REPO_ROOT / ".tools")
    # The stamps are written last, so they also catch an install that was interrupted.
    missing = [name for name in ("node.stamp", "sam.stamp") if not (path / name).is_file()]
    if missing:
        raise ToolError(
            f"The deploy tools are not installed in {path} (no {', '.join(missing)}). "
            f"Run `make tools` in {REPO_ROOT} first (npm and Python venv installs, ~1.5 min)."
        )
    return path


def tool(relative: str) -> Path:
    """One installed executable, e.g. ``tool("sam-venv/bin/sam")``."""
    path = tools_dir() / relative
    if not path.exists():
        raise ToolError(f"{path} is missing: re-run `make tools-clean tools` in {REPO_ROOT}.")
    return path


def isolated_env(tmp_path: Path) -> dict[str, str]:
    """The current environment with HOME, caches and AWS settings pointed into ``tmp_path``.

    Real ``AWS_*`` variables (profiles, endpoints, keys) are dropped and replaced by fake
    credentials and a region, so no tool can pick up a real account. PATH, the pip and
    npm registry settings and proxies are kept.
    """
    root = tmp_path / "_env"
    dirs = {
        "HOME": root / "home",
        "XDG_CONFIG_HOME": root / "config",
        "XDG_CACHE_HOME": root / "cache",
        "XDG_DATA_HOME": root / "data",
        "XDG_STATE_HOME": root / "state",
        "npm_config_cache": root / "cache" / "npm",
        "UV_CACHE_DIR": root / "cache" / "uv",
        "PIP_CACHE_DIR": root / "cache" / "pip",
    }
    for path in dirs.values():
        path.mkdir(parents=True, exist_ok=True)
    env = {key: value for key, value in os.environ.items() if not key.startswith("AWS_")}
    env.update({key: str(path) for key, path in dirs.items()})
    env.update(TELEMETRY_OFF)
    env.update(
        AWS_ACCESS_KEY_ID="testing",
        AWS_SECRET_ACCESS_KEY="testing",
        AWS_DEFAULT_REGION="us-east-1",
        AWS_REGION="us-east-1",
        AWS_CONFIG_FILE=str(root / "home" / ".aws" / "config"),
        AWS_SHARED_CREDENTIALS_FILE=str(root / "home" / ".aws" / "credentials"),
        PYTHONDONTWRITEBYTECODE="1",
    )
    return env


def describe(result: subprocess.CompletedProcess[str]) -> str:
    """A command's exit code and output, for assertion messages."""
    command = " ".join(str(part) for part in result.args)
    return f"$ {command}\nexit {result.returncode}\n{result.stdout}{result.stderr}"


def run_osls(
    service_dir: Path, env: Env, *args: str, timeout: float = 120.0
) -> subprocess.CompletedProcess[str]:
    """``osls ARGS`` in ``service_dir``, without network. Errors go to stdout, not stderr."""
    return _run(
        [str(tool("node_modules/.bin/osls")), *args], cwd=service_dir, env=env, timeout=timeout
    )


def run_osls_package(
    service_dir: Path, env: Env, *, timeout: float = 120.0
) -> subprocess.CompletedProcess[str]:
    """``osls package``: writes ``.serverless/`` (zips + CloudFormation) into ``service_dir``."""
    return run_osls(service_dir, env, "package", timeout=timeout)


def sam_validate(
    template_path: Path, env: Env, *, timeout: float = 120.0
) -> subprocess.CompletedProcess[str]:
    """``sam validate --lint`` (SAM translation + cfn-lint rules), without network."""
    sam = tool("sam-venv/bin/sam")
    command = [str(sam), "validate", "--lint", "--template", str(template_path)]
    return _run(command, cwd=template_path.parent, env=env, timeout=timeout)


def cfn_lint(
    template_path: Path, env: Env, *, timeout: float = 120.0
) -> subprocess.CompletedProcess[str]:
    """``cfn-lint TEMPLATE`` (exit 2 for errors, 4 for warnings), without network."""
    command = [str(tool("sam-venv/bin/cfn-lint")), "--", str(template_path)]
    return _run(command, cwd=template_path.parent, env=env, timeout=timeout)


def _run(
    command: Sequence[str], *, cwd: Path, env: Env, timeout: float
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*_no_network(), *command],
        cwd=cwd,
        env=_tool_env(env),
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def _tool_env(env: Env) -> dict[str, str]:
    """``env`` with telemetry off and osls's compiled config-schema validator shared.

    osls compiles its JSON schema into a validator module cached under
    ``$HOME/.serverless/artifacts`` (~4.5 s per cold HOME); the cache is keyed by the
    schema's hash and written atomically, so all tests share one in ``.tools/cache``.
    """
    cache = tools_dir() / "cache"
    cache.mkdir(exist_ok=True)
    return {"SLS_SCHEMA_CACHE_BASE_DIR": str(cache), **env, **TELEMETRY_OFF}


def _no_network() -> list[str]:
    """Command prefix for a fresh network namespace (no interface up, not even loopback)."""
    unshare = shutil.which("unshare")
    if unshare is None:
        raise ToolError("`unshare` (util-linux) is needed to run the tools without network.")
    # Unprivileged users need a user namespace to be allowed a network namespace.
    return [unshare, "--net"] if os.geteuid() == 0 else [unshare, "--map-root-user", "--net"]


# --- sample events from `sam local generate-event` ---------------------------------------

_SAMPLE_COMMANDS: Final[Mapping[str, tuple[str, str]]] = {
    "http": ("apigateway", "http-api-proxy"),
    "rest": ("apigateway", "aws-proxy"),
    "alb": ("alb", "request"),
}


@functools.cache
def _sample(kind: str) -> str:
    """The sample event of ``kind`` as JSON text, generated once per process.

    ``generate-event`` has ``--method --path --body --stage`` (and ``--resource`` for REST),
    but they only substitute those few top-level fields, which :func:`generate_event`
    rewrites anyway; passing them per request would cost one ``sam`` run per event.
    """
    sam = tool("sam-venv/bin/sam")
    with tempfile.TemporaryDirectory(prefix="fastsplit-sam-") as tmp:
        command = [str(sam), "local", "generate-event", *_SAMPLE_COMMANDS[kind]]
        result = _run(command, cwd=Path(tmp), env=isolated_env(Path(tmp)), timeout=120)
    if result.returncode != 0:
        raise ToolError(f"sam local generate-event failed:\n{describe(result)}")
    json.loads(result.stdout)  # fail here, not in every caller, if it is not JSON
    return result.stdout


def generate_event(
    kind: EventKind,
    *,
    method: str,
    path: str,
    headers: Headers | None = None,
    query: Query | None = None,
    body: str | bytes | None = None,
    cookies: Mapping[str, str] | None = None,
    is_base64: bool = False,
    route: str | None = None,
    stage: str | None = None,
) -> dict[str, Any]:
    """A realistic Lambda event for one HTTP request, from SAM's sample of that kind.

    ``kind``: ``"http"`` (HTTP API, payload 2.0), ``"rest"`` (REST API, payload 1.0) or
    ``"alb"`` (ALB target group with multi-value headers enabled). ``path`` is the
    request path (leading slash, as sent); ``query`` values are decoded (they are encoded
    for ``rawQueryString`` and ALB); ``headers`` may repeat names when given as pairs;
    ``cookies`` are added to the request's Cookie header. A ``bytes`` body (or
    ``is_base64=True``) is sent base64-encoded with ``isBase64Encoded: true``.
    ``route`` is the gateway's route template (``/users/{id}``, ``/{proxy+}``), which
    fills ``routeKey``/``resource`` and ``pathParameters``: without it the HTTP API
    event uses ``$default`` and the REST resource is the literal path. ``stage`` is the
    REST API stage (default: the sample's ``prod``).
    """
    if not path.startswith("/"):
        raise ValueError(f"path must start with '/': {path!r}")
    if stage is not None and kind != "rest":
        raise ValueError("stage only applies to REST API events")
    request = _Request(
        method=method.upper(),
        path=path,
        headers=_pairs(headers),
        query=_pairs(query),
        cookies=[f"{name}={value}" for name, value in (cookies or {}).items()],
        body=body,
        is_base64=is_base64 or isinstance(body, bytes),
        route=route,
    )
    event: dict[str, Any] = copy.deepcopy(json.loads(_sample(kind)))
    if kind == "http":
        return _http_api_event(event, request)
    if kind == "rest":
        return _rest_api_event(event, request, stage)
    return _alb_event(event, request)


class _Request:
    """One request, normalised once for the three event builders."""

    def __init__(
        self,
        *,
        method: str,
        path: str,
        headers: list[tuple[str, str]],
        query: list[tuple[str, str]],
        cookies: list[str],
        body: str | bytes | None,
        is_base64: bool,
        route: str | None,
    ) -> None:
        self.method = method
        self.path = path
        self.query = query
        self.route = route
        self.path_parameters = _path_parameters(route, path) if route else {}
        # Cookies given separately join any Cookie header the caller wrote, as one header.
        cookie_values = [v for k, v in headers if k.lower() == "cookie"] + cookies
        self.headers = [(k, v) for k, v in headers if k.lower() != "cookie"]
        if cookie_values:
            self.headers.append(("Cookie", "; ".join(cookie_values)))
        self.cookies = [c.strip() for v in cookie_values for c in v.split(";") if c.strip()]
        raw = body.encode() if isinstance(body, str) else body
        self.body_length = len(raw) if raw is not None else 0
        self.is_base64 = raw is not None and is_base64
        if raw is None:
            self.body: str | None = None
        elif self.is_base64:
            self.body = base64.b64encode(raw).decode("ascii")
        else:
            self.body = raw.decode()

    @property
    def raw_query(self) -> str:
        """The query string as a client sends it (``%20`` for spaces)."""
        return urlencode(self.query, quote_via=quote)

    def header(self, name: str) -> str | None:
        values = [v for k, v in self.headers if k.lower() == name.lower()]
        return values[-1] if values else None

    def with_gateway_headers(self, added: Mapping[str, str]) -> list[tuple[str, str]]:
        """The client's headers plus those the load balancer or gateway adds in front."""
        headers = list(self.headers)
        present = {k.lower() for k, _ in headers}
        if self.body is not None and "content-length" not in present:
            headers.append(("Content-Length", str(self.body_length)))
        for name, value in added.items():
            if name.lower() == "x-forwarded-for" and "x-forwarded-for" in present:
                # Proxies append the address they saw to the client's list.
                headers = [
                    (k, f"{v}, {value}" if k.lower() == "x-forwarded-for" else v)
                    for k, v in headers
                ]
            elif name.lower() not in present:
                headers.append((name, value))
        return headers


def _http_api_event(event: dict[str, Any], request: _Request) -> dict[str, Any]:
    context = event["requestContext"]
    # The sample's mTLS client certificate and JWT authorizer belong to other APIs.
    for key in ("authentication", "authorizer"):
        context.pop(key, None)
    added = {
        "host": context["domainName"],
        "x-amzn-trace-id": _TRACE_ID,
        "x-forwarded-for": CLIENT_IP,
        "x-forwarded-port": "443",
        "x-forwarded-proto": "https",
    }
    # Payload 2.0: lower-case names, repeated headers comma-joined, cookies in their own list.
    headers: dict[str, list[str]] = {}
    for name, value in request.with_gateway_headers(added):
        if name.lower() != "cookie":
            headers.setdefault(name.lower(), []).append(value)
    route_key = f"{request.method} {request.route}" if request.route else "$default"
    event.update(
        routeKey=route_key,
        rawPath=request.path,
        rawQueryString=request.raw_query,
        headers={name: ",".join(values) for name, values in headers.items()},
        isBase64Encoded=request.is_base64,
    )
    context.update(routeKey=route_key, stage="$default")
    context["http"] = {
        "method": request.method,
        "path": request.path,
        "protocol": "HTTP/1.1",
        "sourceIp": CLIENT_IP,
        "userAgent": request.header("user-agent") or "",
    }
    # Keys without a value are left out of a 2.0 event rather than set to null.
    optional: dict[str, Any] = {
        "cookies": request.cookies,
        "queryStringParameters": {
            name: ",".join(values) for name, values in _grouped(request.query).items()
        },
        "pathParameters": request.path_parameters,
        "body": request.body,
        "stageVariables": None,
    }
    for key, item in optional.items():
        event.pop(key, None)
        if item:
            event[key] = item
    return event


def _rest_api_event(event: dict[str, Any], request: _Request, stage: str | None) -> dict[str, Any]:
    context = event["requestContext"]
    stage = stage or context["stage"]
    domain = f"{context['apiId']}.execute-api.us-east-1.amazonaws.com"
    # An edge-optimized API is fronted by CloudFront: keep its headers from the sample,
    # drop the sample browser's own headers (Accept, User-Agent, ...).
    edge = {
        name: value
        for name, value in event["headers"].items()
        if name.startswith("CloudFront-") or name in ("Via", "X-Amz-Cf-Id")
    }
    added = {
        "Host": domain,
        **edge,
        "X-Amzn-Trace-Id": _TRACE_ID,
        "X-Forwarded-For": CLIENT_IP,
        "X-Forwarded-Port": "443",
        "X-Forwarded-Proto": "https",
    }
    headers = _grouped(request.with_gateway_headers(added), fold_case=True)
    query = _grouped(request.query)
    resource = request.route or request.path
    event.update(
        resource=resource,
        path=request.path,
        httpMethod=request.method,
        headers={name: values[-1] for name, values in headers.items()},
        multiValueHeaders=headers,
        queryStringParameters={k: v[-1] for k, v in query.items()} or None,
        multiValueQueryStringParameters=query or None,
        pathParameters=request.path_parameters or None,
        stageVariables=None,
        body=request.body,
        isBase64Encoded=request.is_base64,
    )
    context.update(
        stage=stage,
        path=f"/{stage}{request.path}",
        resourcePath=resource,
        httpMethod=request.method,
        domainName=domain,
        domainPrefix=context["apiId"],
    )
    context["identity"].update(sourceIp=CLIENT_IP, userAgent=request.header("user-agent"))
    return event


def _alb_event(event: dict[str, Any], request: _Request) -> dict[str, Any]:
    sample_headers = event.pop("headers")
    event.pop("queryStringParameters", None)
    added = {
        "host": sample_headers["host"],
        "x-amzn-trace-id": sample_headers["x-amzn-trace-id"],
        "x-forwarded-for": CLIENT_IP,
        "x-forwarded-port": sample_headers["x-forwarded-port"],
        "x-forwarded-proto": sample_headers["x-forwarded-proto"],
    }
    headers: dict[str, list[str]] = {}
    for name, value in request.with_gateway_headers(added):
        headers.setdefault(name.lower(), []).append(value)
    # ALB passes query names and values as they were on the wire: it does not decode them.
    query: dict[str, list[str]] = {}
    for name, value in request.query:
        query.setdefault(quote(name, safe=""), []).append(quote(value, safe=""))
    event.update(
        httpMethod=request.method,
        path=request.path,
        multiValueHeaders=headers,
        multiValueQueryStringParameters=query,
        body=request.body if request.body is not None else "",
        isBase64Encoded=request.is_base64,
    )
    return event


def _pairs(items: Headers | Query | None) -> list[tuple[str, str]]:
    if items is None:
        return []
    if not isinstance(items, Mapping):
        return [(str(name), str(value)) for name, value in items]
    pairs: list[tuple[str, str]] = []
    for name, value in items.items():
        if isinstance(value, str):
            pairs.append((name, value))
        else:
            pairs.extend((name, item) for item in value)
    return pairs


def _grouped(pairs: Iterable[tuple[str, str]], *, fold_case: bool = False) -> dict[str, list[str]]:
    """Values per name in order; with ``fold_case`` names match case-insensitively and
    keep their first spelling (how REST APIs build ``multiValueHeaders``)."""
    grouped: dict[str, list[str]] = {}
    spelling: dict[str, str] = {}
    for name, value in pairs:
        key = spelling.setdefault(name.lower(), name) if fold_case else name
        grouped.setdefault(key, []).append(value)
    return grouped


def _path_parameters(route: str, path: str) -> dict[str, str]:
    """``{"id": "1"}`` for route ``/users/{id}`` and path ``/users/1`` (``{x+}`` is greedy)."""
    names: list[str] = []
    pattern = ""
    for literal, name in re.findall(r"([^{]*)(?:\{([^}]+)\})?", route):
        pattern += re.escape(literal)
        if name:
            names.append(name.removesuffix("+"))
            pattern += "(.+)" if name.endswith("+") else "([^/]+)"
    match = re.fullmatch(pattern, path)
    if match is None:
        raise ValueError(f"path {path!r} does not match route {route!r}")
    return dict(zip(names, match.groups(), strict=True))


# --- serverless-offline -------------------------------------------------------------------


@contextmanager
def serverless_offline(
    service_dir: Path, env: Env, *, python_bin_dir: Path, timeout: float = 60.0
) -> Iterator[str]:
    """Run ``osls offline start`` for ``service_dir``; yield its base URL (``http://127.0.0.1:N``).

    The server runs in a network namespace of its own with only loopback up, listening on
    127.0.0.1 there; a small TCP bridge in this process forwards a free host loopback port
    into it. Handlers run with ``python3`` from ``python_bin_dir``. Nothing is written into
    ``service_dir`` (bytecode writing is off), unless a function has ``package.artifact``:
    serverless-offline then unzips it under ``.serverless-offline/`` there. Raises
    :class:`ToolError` with the server's output if it exits or does not answer within
    ``timeout`` seconds. On exit the bridge closes, the process group gets SIGINT (SIGKILL
    after 15 s) and no process is left.
    """
    if os.geteuid() != 0:
        raise ToolError("serverless_offline needs root (it joins the server's network namespace).")
    python3 = python_bin_dir / "python3"
    if not python3.exists():
        raise ToolError(f"{python3} does not exist: python_bin_dir must contain a python3.")
    run_env = {**_tool_env(env), "PYTHONDONTWRITEBYTECODE": "1"}
    run_env.pop("VIRTUAL_ENV", None)  # serverless-offline would put $VIRTUAL_ENV/bin first
    run_env["PATH"] = os.pathsep.join([str(python_bin_dir), env.get("PATH", os.defpath)])
    ip = shutil.which("ip", path=os.pathsep.join([run_env["PATH"], "/usr/sbin", "/sbin"]))
    if ip is None:
        raise ToolError("`ip` (iproute2) is needed to bring up loopback for serverless-offline.")
    ports = [arg for name, port in _OFFLINE_PORTS.items() for arg in (f"--{name}", str(port))]
    command = [
        *_no_network(),
        "sh",
        "-c",
        'ip="$1"; shift; "$ip" link set lo up && exec "$@"',
        "sh",
        ip,
        str(tool("node_modules/.bin/osls")),
        *("offline", "start", "--host", "127.0.0.1", *ports, "--noPrependStageInUrl"),
        "--noSponsor",
    ]
    with tempfile.TemporaryDirectory(prefix="fastsplit-offline-") as tmp:
        log_path = Path(tmp) / "offline.log"
        with log_path.open("ab") as log:
            process = subprocess.Popen(
                command,
                cwd=service_dir,
                env=run_env,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # its own process group, signalled as a whole
            )
        bridge: _NetnsBridge | None = None
        try:
            try:
                deadline = time.monotonic() + timeout
                bridge = _bridge_into(process, deadline)
                _wait_until_answering(process, bridge.port, deadline)
            except (ToolError, OSError, BrokenExecutor) as error:
                _shut_down(bridge, process)  # first, so that the log is complete
                output = log_path.read_text(errors="replace")
                raise ToolError(
                    f"osls offline start in {service_dir}: {error}\n{output}"
                ) from error
            yield f"http://127.0.0.1:{bridge.port}"
        finally:
            _shut_down(bridge, process)


def _shut_down(bridge: _NetnsBridge | None, process: subprocess.Popen[bytes]) -> None:
    """Idempotent. Client connections go first: hapi waits for open ones before it stops."""
    if bridge is not None:
        bridge.close()
    _stop_group(process)


def _bridge_into(process: subprocess.Popen[bytes], deadline: float) -> _NetnsBridge:
    """A bridge into ``process``'s network namespace, once ``unshare`` has made it."""
    own = os.stat("/proc/self/ns/net").st_ino
    while True:
        try:
            fd = os.open(f"/proc/{process.pid}/ns/net", os.O_RDONLY)
        except (FileNotFoundError, ProcessLookupError):
            fd = -1  # already exited: _check_running says so
        if fd >= 0:
            try:
                if os.fstat(fd).st_ino != own:
                    return _NetnsBridge(fd, _OFFLINE_PORTS["httpPort"])
            finally:
                os.close(fd)
        _check_running(process, deadline)
        time.sleep(0.01)


def _wait_until_answering(process: subprocess.Popen[bytes], port: int, deadline: float) -> None:
    """Poll until an HTTP request through the bridge gets any answer (a 404 will do)."""
    while True:
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
        try:
            connection.request("GET", "/__fastsplit_tooling_ready__")
            connection.getresponse().read()
            return
        except (OSError, http.client.HTTPException):
            pass  # not listening yet: the bridge closes the connection
        finally:
            connection.close()
        _check_running(process, deadline)
        time.sleep(0.1)


def _check_running(process: subprocess.Popen[bytes], deadline: float) -> None:
    if process.poll() is not None:
        raise ToolError(f"exited with code {process.returncode} before answering")
    if time.monotonic() > deadline:
        raise ToolError("did not answer on HTTP in time")


def _stop_group(process: subprocess.Popen[bytes], grace: float = 15.0) -> None:
    """SIGINT to the whole process group (osls, sh wrappers, Python handlers), then wait."""
    if process.poll() is None:
        _signal_group(process.pid, signal.SIGINT)
        try:
            process.wait(grace)
        except subprocess.TimeoutExpired:
            _signal_group(process.pid, signal.SIGKILL)
            process.wait()
    _signal_group(process.pid, signal.SIGKILL)  # any handler process that outlived osls


def _signal_group(pgid: int, signum: signal.Signals) -> None:
    with suppress(ProcessLookupError):
        os.killpg(pgid, signum)


def processes_in(directory: Path) -> list[int]:
    """PIDs of live processes whose working directory is ``directory`` or below it."""
    root = directory.resolve()
    pids = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cwd = Path(os.readlink(entry / "cwd"))
        except OSError:  # gone, a zombie, or a kernel thread
            continue
        if cwd == root or root in cwd.parents:
            pids.append(int(entry.name))
    return pids


_CLONE_NEWNET: Final = 0x40000000


def _enter_netns(fd: int) -> None:
    """Move the calling *thread* (not the process) into the network namespace ``fd``."""
    if sys.version_info >= (3, 12):
        os.setns(fd, os.CLONE_NEWNET)
        return
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.setns(fd, _CLONE_NEWNET) != 0:
        errno = ctypes.get_errno()
        raise OSError(errno, f"setns: {os.strerror(errno)}")


class _NetnsBridge:
    """Forwards connections from a free 127.0.0.1 port here to a port in another netns.

    A socket belongs to the namespace of the thread that creates it, so one worker
    thread joins the target namespace and only opens the inner connections; the bytes
    are then pumped by ordinary threads.
    """

    def __init__(self, netns_fd: int, target_port: int) -> None:
        self._target = ("127.0.0.1", target_port)
        self._inside = ThreadPoolExecutor(
            max_workers=1,
            thread_name_prefix="netns",
            initializer=_enter_netns,
            initargs=(netns_fd,),
        )
        try:
            # Joins the namespace now (while netns_fd is open) and surfaces a setns failure.
            self._inside.submit(lambda: None).result()
        except BrokenExecutor:
            self._inside.shutdown()
            raise
        self._listener = socket.create_server(("127.0.0.1", 0))
        self._listener.settimeout(0.1)  # lets the accept loop notice close()
        self.port: int = self._listener.getsockname()[1]
        self._closed = threading.Event()
        self._lock = threading.Lock()
        self._sockets: set[socket.socket] = set()
        self._threads: list[threading.Thread] = []
        self._start(self._accept_loop)

    def close(self) -> None:
        self._closed.set()
        with self._lock:
            for sock in self._sockets:
                with suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)  # wakes the pumps blocked in recv
        for thread in self._threads:
            thread.join(timeout=5)
        self._listener.close()
        self._inside.shutdown(wait=True)

    def _start(self, target: Callable[..., None], *args: Any) -> None:
        thread = threading.Thread(target=target, args=args, daemon=True)
        with self._lock:
            self._threads.append(thread)
        thread.start()

    def _accept_loop(self) -> None:
        while not self._closed.is_set():
            try:
                client, _ = self._listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            client.settimeout(None)
            try:
                upstream = self._inside.submit(socket.create_connection, self._target, 5).result()
            except (OSError, RuntimeError):  # not listening yet, or the bridge is closing
                client.close()
                continue
            upstream.settimeout(None)
            with self._lock:
                if self._closed.is_set():  # close() has already shut the others down
                    client.close()
                    upstream.close()
                    return
                self._sockets.update((client, upstream))
            self._start(self._serve, client, upstream)

    def _serve(self, client: socket.socket, upstream: socket.socket) -> None:
        back = threading.Thread(target=_pump, args=(upstream, client), daemon=True)
        back.start()
        _pump(client, upstream)
        back.join()
        with self._lock:
            self._sockets.difference_update((client, upstream))
        client.close()
        upstream.close()


def _pump(source: socket.socket, sink: socket.socket) -> None:
    """Copy until EOF or error, then pass the EOF on to the other side."""
    with suppress(OSError):
        while chunk := source.recv(65536):
            sink.sendall(chunk)
    with suppress(OSError):
        sink.shutdown(socket.SHUT_WR)
