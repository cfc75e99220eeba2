"""``fastsplit verify``: the same requests to the monolith and to the split, compared.

The monolith runs in this process behind Starlette's ``TestClient``; the split runs as
deployed: every function in its own process behind the local gateway, reached over real
HTTP. Each side gets its own environment overrides (``{tmp}`` in a value becomes a fresh
empty folder per side), so that an app keeping state in a file starts from the same
empty state on both sides and neither sees the other's writes. Both see the same
requests in the same order.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

from fastsplit.config import load_config
from fastsplit.gateway import select
from fastsplit.generator import render_build
from fastsplit.local.cases import Case, generate, load_cases
from fastsplit.local.compare import Answer, Difference, compare
from fastsplit.local.deployment import LocalError, Source, read_build_manifest
from fastsplit.local.split import LocalSplit
from fastsplit.parser import import_module, load_app_spec, resolve_attribute, split_app_ref
from fastsplit.planner import plan_build
from fastsplit.prove import prove_plan
from fastsplit.writer import write_build

USER_AGENT = "fastsplit-verify"
_PATH_SAFE = "/:@!$&'()*+,;=~"


@dataclass(frozen=True)
class VerifyOptions:
    app_ref: str | None = None
    app_dir: Path | None = None
    project: Path = Path(".")
    build: Path | None = None
    """An existing build to verify; None builds the app into a temporary folder."""
    source: Source = "build"
    dist: Path | None = None
    cases_file: Path | None = None
    generate: bool = True
    read_only: bool = False
    headers: tuple[tuple[str, str], ...] = ()
    env: tuple[tuple[str, str], ...] = ()
    python: str | None = None
    timeout: float | None = None


@dataclass(frozen=True)
class CaseResult:
    case: Case
    function: str | None
    """The function the gateway sent the request to (None: the gateway's own 404)."""
    monolith: Answer
    split: Answer
    differences: tuple[Difference, ...]
    known: tuple[Difference, ...]


@dataclass(frozen=True)
class Report:
    app: str
    functions: tuple[str, ...]
    results: tuple[CaseResult, ...]

    @property
    def failed(self) -> list[CaseResult]:
        return [result for result in self.results if result.differences]

    @property
    def with_known(self) -> list[CaseResult]:
        return [result for result in self.results if result.known]

    @property
    def unexercised(self) -> list[str]:
        used = {result.function for result in self.results}
        return [name for name in self.functions if name not in used]


def verify(
    options: VerifyOptions, *, progress: Callable[[CaseResult], None] | None = None
) -> Report:
    """Build (or read) the split, send every request to both sides, compare."""
    try:
        import httpx
        from starlette.testclient import TestClient
    except ImportError:
        raise LocalError("fastsplit verify needs httpx; install it: pip install httpx") from None
    with _workspace() as work:
        build, app_ref, app_dir = _build(options, work)
        manifest = read_build_manifest(build)
        app = _import_app(app_ref, app_dir)
        cases = load_cases(options.cases_file) if options.cases_file else []
        if options.generate:
            cases += generate(manifest, _openapi(app), read_only=options.read_only)
        monolith_env = _side_env(options.env, work / "monolith")
        split_env = {**os.environ, **_side_env(options.env, work / "split")}
        functions = tuple(str(function["name"]) for function in manifest["functions"])
        results: list[CaseResult] = []
        with LocalSplit(
            build,
            source=options.source,
            dist=options.dist,
            python=options.python,
            env=split_env,
            timeout=options.timeout,
        ) as split:
            # Cold starts in parallel, before the first request: only their sum matters here.
            needed = {select(split.deployment.routes, c.method, c.path) for c in cases}
            split.pool.start_all(sorted({route.function for route in needed if route}))
            headers = {"user-agent": USER_AGENT}
            with (
                _patched_environ(monolith_env),
                TestClient(
                    app, base_url=split.url, raise_server_exceptions=False, headers=headers
                ) as monolith,
                httpx.Client(base_url=split.url, headers=headers, timeout=60) as client,
            ):
                for case in cases:
                    case = _with_headers(case, options.headers)
                    route = select(split.deployment.routes, case.method, case.path)
                    function = route.function if route is not None else None
                    want, have = _send(monolith, case), _send(client, case)
                    differences, known = compare(want, have, artifacts=options.source == "dist")
                    result = CaseResult(
                        case, function, want, have, tuple(differences), tuple(known)
                    )
                    results.append(result)
                    if progress is not None:
                        progress(result)
        return Report(app_ref, functions, tuple(results))


def _build(options: VerifyOptions, work: Path) -> tuple[Path, str, Path]:
    """The build to verify, the app it was made from and the folder to import it from."""
    config = load_config(options.project)
    app_dir = options.app_dir or config.app_dir
    if options.build is not None:
        manifest = read_build_manifest(options.build)
        app_ref = options.app_ref or str(manifest.get("app") or config.app or "")
        return options.build, app_ref, app_dir
    config = config.with_overrides(app=options.app_ref, app_dir=options.app_dir)
    if not config.app:
        raise LocalError("no app given: pass APP (e.g. 'app.main:app') or --build DIR")
    if options.source == "dist":
        raise LocalError("--from dist needs --build DIR (the build the artifacts came from)")
    spec = load_app_spec(config.app, app_dir=config.app_dir)
    # Slim functions are written only once proven (or turned into full ones).
    plan = prove_plan(plan_build(spec, config), app_dir=config.app_dir)
    errors = [d for d in plan.diagnostics if d.level == "error"]
    if errors:
        first = errors[0]
        more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
        raise LocalError(f"the app cannot be split: {first.where}: {first.message}{more}")
    out = work / "build"
    write_build(render_build(plan), out=out, app_dir=config.app_dir)
    return out, config.app, config.app_dir


def _import_app(app_ref: str, app_dir: Path) -> Any:
    if not app_ref:
        raise LocalError("no app to compare with: pass APP (e.g. 'app.main:app')")
    module_name, attribute = split_app_ref(app_ref)
    module = import_module(module_name, app_dir=app_dir.resolve())
    return resolve_attribute(module, attribute, app_ref)


def _openapi(app: Any) -> dict[str, Any] | None:
    openapi = getattr(app, "openapi", None)
    if not callable(openapi):
        return None  # a Starlette app: requests come from the route table only
    with warnings.catch_warnings():
        # FastAPI warns about duplicate operation ids; that is the app's business here.
        warnings.simplefilter("ignore")
        schema: dict[str, Any] = openapi()
    return schema


def _side_env(pairs: tuple[tuple[str, str], ...], folder: Path) -> dict[str, str]:
    folder.mkdir(parents=True, exist_ok=True)
    return {name: value.replace("{tmp}", str(folder)) for name, value in pairs}


def _with_headers(case: Case, headers: tuple[tuple[str, str], ...]) -> Case:
    if not headers:
        return case
    names = {name.lower() for name, _ in case.headers}
    extra = tuple((name, value) for name, value in headers if name.lower() not in names)
    return Case(case.method, case.path, case.query, (*extra, *case.headers), case.body, case.note)


def _send(client: Any, case: Case) -> Answer:
    # Every request stands alone: cookies a response set are not sent back by the client.
    client.cookies.clear()
    response = client.request(
        case.method,
        quote(case.path, safe=_PATH_SAFE),
        params=list(case.query) or None,
        headers=list(case.headers),
        content=case.body or None,
        follow_redirects=False,
    )
    return Answer.from_items(response.status_code, response.headers.multi_items(), response.content)


@contextmanager
def _workspace() -> Iterator[Path]:
    folder = Path(tempfile.mkdtemp(prefix="fastsplit-verify-"))
    try:
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)


@contextmanager
def _patched_environ(values: dict[str, str]) -> Iterator[None]:
    """The monolith runs in this process: its side's variables, for as long as it runs."""
    saved = {name: os.environ.get(name) for name in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
