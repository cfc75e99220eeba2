"""``fastsplit serve``, ``invoke`` and ``verify``: the split app run locally, as deployed.

Command-line code (it prints and exits, like ``cli.py``); the work is done by
:mod:`fastsplit.local`. ``register(app)`` adds the three commands to the main app.
"""

from __future__ import annotations

import json
import signal
import sys
import threading
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any, NoReturn

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn
from rich.table import Table

from fastsplit.config import load_config
from fastsplit.errors import FastsplitError
from fastsplit.gateway import select
from fastsplit.local.deployment import Deployment, read_build_manifest
from fastsplit.local.events import HttpRequest, http_api_event
from fastsplit.local.pool import WorkerPool
from fastsplit.local.server import RequestRecord
from fastsplit.local.split import LocalSplit
from fastsplit.local.verify import CaseResult, Report, VerifyOptions, verify
from fastsplit.local.watch import SourceWatcher, rebuild, watched_roots
from fastsplit.local.worker import FunctionError, Invocation

out_console = Console(highlight=False, soft_wrap=True)
err_console = Console(stderr=True, highlight=False, soft_wrap=True)


class From(StrEnum):
    build = "build"
    dist = "dist"


AppArg = Annotated[
    str | None,
    typer.Argument(
        metavar="APP", help="The app as module:attribute (e.g. app.main:app).", show_default=False
    ),
]
AppDirOpt = Annotated[
    Path | None,
    typer.Option("--app-dir", help="Folder to import the app from (default: current folder)."),
]
ProjectOpt = Annotated[
    Path,
    typer.Option("--project", help="Folder whose pyproject.toml has \\[tool.fastsplit]."),
]
BuildOpt = Annotated[
    Path | None, typer.Option("--build", help="The build folder (default: build).")
]
FromOpt = Annotated[
    From,
    typer.Option(
        "--from",
        help="Run the build's function folders, or the zips of `fastsplit package`.",
        case_sensitive=False,
    ),
]
DistOpt = Annotated[
    Path | None,
    typer.Option("--dist", help="Where `fastsplit package --out` wrote (default: dist)."),
]
PythonOpt = Annotated[
    str | None,
    typer.Option("--python", help="Interpreter for the functions (default: this one)."),
]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print machine-readable JSON.")]
HeaderOpt = Annotated[
    list[str] | None,
    typer.Option("--header", "-H", help="A request header, 'Name: value' (repeatable)."),
]


def print_json(data: Any) -> None:
    """JSON on stdout as is: rich's print_json re-parses and lays it out token by token,
    which takes a minute for a 1,000-route app."""
    sys.stdout.write(json.dumps(data, sort_keys=True, indent=2, ensure_ascii=False) + "\n")
    sys.stdout.flush()


def progress_bar(*, disable: bool) -> Progress:
    """The transient stderr progress bar the long commands show (hidden for --json)."""
    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        console=err_console,
        transient=True,
        disable=disable,
    )


def register(app: typer.Typer) -> None:
    """Add ``serve``, ``invoke`` and ``verify`` to the ``fastsplit`` command."""
    app.command("serve")(serve)
    app.command("invoke")(invoke)
    app.command("verify")(verify_command)


def serve(
    app_ref: AppArg = None,
    build_dir: BuildOpt = None,
    source: FromOpt = From.build,
    dist: DistOpt = None,
    host: Annotated[str, typer.Option(help="Address to listen on (only this one).")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on (0: any free port).")] = 8000,
    reload: Annotated[
        bool, typer.Option("--reload", help="Rebuild and restart functions when the app changes.")
    ] = False,
    app_dir: AppDirOpt = None,
    project: ProjectOpt = Path("."),
    python: PythonOpt = None,
) -> None:
    """Serve the split app over HTTP like API Gateway, each function in its own process.

    With APP (or --reload) the app is built first into --build.
    """
    config = _run(lambda: load_config(project))
    build = build_dir or config.out
    app_dir = app_dir or config.app_dir
    if ":" in host:
        # Mangum reads the port after the first ':' of the Host header: "[::1]:8000" fails.
        _fail(f"--host {host}: use an IPv4 address or a host name (IPv6 is not supported)")
    if (reload or app_ref) and source is From.dist:
        _fail(
            "--from dist serves what `fastsplit package` made: build and package first, "
            "then serve without APP and --reload"
        )
    if app_ref is None and reload:
        app_ref = _run(lambda: str(read_build_manifest(build).get("app") or "")) or config.app
        if not app_ref:
            _fail("--reload needs the app: pass APP or set app in [tool.fastsplit]")
    if app_ref:
        err_console.print(f"Building {app_ref} into {build}/ ...", markup=False)
        _run(lambda: rebuild(app_ref, app_dir=app_dir, project=project, out=build))
    split = _run(
        lambda: LocalSplit(
            build,
            source=source.value,
            dist=_dist(dist, config.dist),
            python=python,
            host=host,
            port=port,
            on_request=_log_request,
            on_output=_log_output,
            on_error=_log_gateway_error,
        )
    )
    try:
        server = split.bind()
    except OSError as exc:
        split.close()
        reason = exc.strerror or str(exc)
        _fail(f"cannot listen on {host}:{port}: {reason}; choose another --host or --port")
    watcher = _watcher(split, app_ref, app_dir, project, build) if reload and app_ref else None
    # Explicitly: a shell starting the server in the background would have SIGINT ignored.
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, _interrupt)
    try:
        err_console.print(
            f"Serving {split.deployment.app} ({len(split.deployment.functions)} functions "
            f"from {source.value}) on {split.url} - Ctrl-C to stop",
            markup=False,
        )
        if not host.startswith("127.") and host != "localhost":
            err_console.print(f"[yellow]warning:[/] listening on {escape(host)}, not only loopback")
        server.serve_forever()
    except KeyboardInterrupt:
        err_console.print("Stopping: waiting for the functions to shut down ...", markup=False)
    finally:
        if watcher is not None:
            watcher.stop()
        split.close()


def invoke(
    name: Annotated[str, typer.Argument(metavar="NAME", help="The function to run.")],
    event_file: Annotated[
        str | None, typer.Option("--event", help="A Lambda event as JSON: a file, or - for stdin.")
    ] = None,
    method: Annotated[str, typer.Option(help="HTTP method of the request.")] = "GET",
    path: Annotated[
        str | None, typer.Option(help="Request path and query, e.g. /users/1?limit=2.")
    ] = None,
    data: Annotated[
        str | None, typer.Option(help="Request body; @FILE reads it from a file.")
    ] = None,
    header: HeaderOpt = None,
    build_dir: BuildOpt = None,
    source: FromOpt = From.build,
    dist: DistOpt = None,
    project: ProjectOpt = Path("."),
    python: PythonOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Run one function once, in its own process, and print the Lambda response.

    Exit code 0 for an answer below 500, 1 when the answer is 5xx or the function failed.
    """
    if (event_file is None) == (path is None):
        _fail("give the event: --event FILE (or - for stdin), or --method and --path")
    config = _run(lambda: load_config(project))
    deployment = _run(
        lambda: Deployment(
            build_dir or config.out,
            source=source.value,
            dist=_dist(dist, config.dist),
            python=python,
        )
    )
    pool = WorkerPool(deployment, on_output=_log_output)
    try:
        function = _run(lambda: deployment.function(name))
        if event_file is not None:
            event = _read_event(event_file)
        else:
            assert path is not None
            request = _request(method, path, data, header or [])
            route = select(function.routes, request.method, request.path)
            if route is None:
                served = ", ".join(f"{r.method} {r.path}" for r in function.routes) or "none"
                _fail(f"function {name} does not serve {request.method} {request.path} ({served})")
            event = http_api_event(request, route)
        invocation = pool.invoke(name, event)
    finally:
        pool.close()
        deployment.close()
    _print_invocation(invocation, as_json=as_json)
    status = _status(invocation.response)
    if invocation.error is not None or (status is not None and status >= 500):
        raise typer.Exit(code=1)


def verify_command(
    app_ref: AppArg = None,
    app_dir: AppDirOpt = None,
    project: ProjectOpt = Path("."),
    build_dir: Annotated[
        Path | None,
        typer.Option("--build", help="Verify this existing build (default: build APP afresh)."),
    ] = None,
    source: FromOpt = From.build,
    dist: DistOpt = None,
    cases: Annotated[
        Path | None, typer.Option("--cases", help="Recorded requests to send too (JSON list).")
    ] = None,
    generate: Annotated[
        bool, typer.Option("--generate/--no-generate", help="Generate requests from OpenAPI.")
    ] = True,
    read_only: Annotated[
        bool, typer.Option("--read-only", help="Only GET, HEAD and OPTIONS requests.")
    ] = False,
    header: HeaderOpt = None,
    env: Annotated[
        list[str] | None,
        typer.Option(
            "--env",
            help="NAME=VALUE for both sides; {tmp} is a fresh folder per side (repeatable).",
        ),
    ] = None,
    python: PythonOpt = None,
    show_known: Annotated[
        bool, typer.Option("--show-known", help="List the known differences one by one.")
    ] = False,
    strict: Annotated[bool, typer.Option("--strict", help="Known differences fail too.")] = False,
    as_json: JsonOpt = False,
) -> None:
    """Send the same requests to the monolith and to the split; exit 1 if answers differ."""
    # Importing the app must not write __pycache__ folders into the user's tree.
    sys.dont_write_bytecode = True
    options = VerifyOptions(
        app_ref=app_ref,
        app_dir=app_dir,
        project=project,
        build=build_dir,
        source=source.value,
        dist=_dist(dist, _run(lambda: load_config(project)).dist) if source is From.dist else None,
        cases_file=cases,
        generate=generate,
        read_only=read_only,
        headers=tuple(_header(h) for h in header or []),
        env=tuple(_assignment(item) for item in env or []),
        python=python,
    )
    with progress_bar(disable=as_json) as bar:
        task = bar.add_task("Comparing", total=None)
        report: Report = _run(lambda: verify(options, progress=lambda _: bar.advance(task)))
    failed = bool(report.failed) or (strict and bool(report.with_known))
    if as_json:
        print_json(_report_json(report, failed=failed))
    else:
        _print_report(report, show_known=show_known or strict)
    if failed:
        raise typer.Exit(code=1)


# --- serve ------------------------------------------------------------------------------

_print_lock = threading.Lock()


def _log_request(record: RequestRecord) -> None:
    colour = "green" if record.status < 400 else "yellow" if record.status < 500 else "red"
    function = record.function or "(no route)"
    line = (
        f"{escape(record.method)} {escape(record.path)} → {function} "
        f"[{colour}]{record.status}[/] {record.duration_ms:.0f} ms"
    )
    if record.cold:
        line += f" [cyan](cold start {record.init_ms:.0f} ms, pid {record.pid})[/]"
    if record.error is not None:
        line += f" [red]{escape(str(record.error))}[/]"
    with _print_lock:
        err_console.print(line)
        if record.error is not None:
            for frame in record.error.stack[-12:]:
                err_console.print(f"    {escape(frame.rstrip())}", style="dim")


def _log_gateway_error(text: str) -> None:
    with _print_lock:
        err_console.print("[bold red]gateway error[/] (please report it):")
        err_console.print(text.rstrip(), markup=False)


def _log_output(function: str, line: str) -> None:
    with _print_lock:
        err_console.print(f"  {function} | {escape(line)}", style="dim")


def _watcher(
    split: LocalSplit, app_ref: str, app_dir: Path, project: Path, build: Path
) -> SourceWatcher:
    roots = watched_roots(split.deployment.manifest, app_dir)

    def on_change(paths: list[Path]) -> None:
        names = ", ".join(str(p) for p in paths[:3]) + (" ..." if len(paths) > 3 else "")
        err_console.print(f"Changed: {names}; rebuilding ...", markup=False)
        try:
            rebuild(app_ref, app_dir=app_dir, project=project, out=build)
            split.reload()
        except FastsplitError as exc:
            err_console.print(
                f"[bold red]error:[/] {escape(str(exc))} (still serving the last build)"
            )
            return
        err_console.print("Rebuilt; functions restart on their next request.", markup=False)

    watcher = SourceWatcher(roots, on_change)
    watcher.start()
    return watcher


def _interrupt(signum: int, frame: Any) -> None:
    raise KeyboardInterrupt


# --- invoke -----------------------------------------------------------------------------


def _read_event(source: str) -> Any:
    try:
        text = sys.stdin.read() if source == "-" else Path(source).read_text(encoding="utf-8")
        return json.loads(text)
    except OSError as exc:
        _fail(f"cannot read --event {source}: {exc.strerror}")
    except ValueError as exc:
        _fail(f"--event {source} is not JSON ({exc})")


def _request(method: str, path: str, data: str | None, headers: list[str]) -> HttpRequest:
    if not path.startswith("/"):
        _fail(f"--path {path!r} must start with '/'")
    body = b""
    if data is not None:
        if data.startswith("@"):
            try:
                body = Path(data[1:]).read_bytes()
            except OSError as exc:
                _fail(f"cannot read --data {data}: {exc.strerror}")
        else:
            body = data.encode()
    pairs = [("host", "localhost"), ("user-agent", "fastsplit-invoke")]
    given = [_header(item) for item in headers]
    names = {name.lower() for name, _ in given}
    pairs = [(k, v) for k, v in pairs if k not in names] + given
    if body and "content-type" not in names:
        pairs.append(("content-type", "application/json" if _is_json(body) else "text/plain"))
    return HttpRequest(method=method.upper(), target=path, headers=tuple(pairs), body=body)


def _is_json(body: bytes) -> bool:
    try:
        json.loads(body)
    except ValueError:
        return False
    return True


def _status(response: Any) -> int | None:
    if isinstance(response, dict) and "statusCode" in response:
        try:
            return int(response["statusCode"])
        except (TypeError, ValueError):
            return None
    return None


def _print_invocation(invocation: Invocation, *, as_json: bool) -> None:
    timing = f"{invocation.duration_ms:.0f} ms"
    if invocation.cold:
        timing += f", cold start {invocation.init_ms:.0f} ms"
    error = invocation.error
    if error is not None:
        if as_json:
            print_json(error.as_lambda_error())
        _print_error(invocation.function, error)
        return
    response = invocation.response
    if as_json:
        print_json(response)
        return
    status = _status(response)
    if status is None:
        out_console.print(f"{invocation.function}: not an HTTP response ({timing})", markup=False)
        print_json(response)
        return
    out_console.print(f"[bold]{status}[/] ({escape(invocation.function)}, {timing})")
    for name, value in (response.get("headers") or {}).items():
        out_console.print(f"{name}: {value}", markup=False)
    for name, values in (response.get("multiValueHeaders") or {}).items():
        for value in values:
            out_console.print(f"{name}: {value}", markup=False)
    for cookie in response.get("cookies") or []:
        out_console.print(f"set-cookie: {cookie}", markup=False)
    body = response.get("body") or ""
    if body:
        out_console.print()
        if response.get("isBase64Encoded"):
            out_console.print(
                f"({len(body)} characters of base64: --json shows them)", markup=False
            )
        else:
            out_console.print(body, markup=False)


def _print_error(function: str, error: FunctionError) -> None:
    what = {
        "init": "could not start",
        "handler": "raised",
        "crash": "crashed",
        "timeout": "timed out",
        "payload": "was over a size limit",
    }[error.kind]
    err_console.print(
        f"[bold red]error:[/] function {escape(function)} {what}: {escape(str(error))}"
    )
    for frame in error.stack:
        err_console.print(f"    {escape(frame.rstrip())}", style="dim")


# --- verify -----------------------------------------------------------------------------


def _print_report(report: Report, *, show_known: bool) -> None:
    if report.failed:
        out_console.print(_differences_table("Differences", report.failed, known=False))
    if show_known and report.with_known:
        out_console.print(_differences_table("Known differences", report.with_known, known=True))
    total = len(report.results)
    reasons: dict[str, set[str]] = {}
    for result in report.with_known:
        for known in result.known:
            reasons.setdefault(known.reason, set()).add(known.what.removeprefix("header "))
    for reason, names in sorted(reasons.items()):
        err_console.print(f"[cyan]known:[/] {escape(reason)} ({escape(', '.join(sorted(names)))})")
    if report.unexercised:
        err_console.print(f"[yellow]not exercised:[/] {escape(', '.join(report.unexercised))}")
    functions = len(report.functions)
    if report.failed:
        err_console.print(
            f"[bold red]{len(report.failed)} of {total} requests differ[/] between "
            f"{escape(report.app)} and its {functions} functions"
        )
    else:
        err_console.print(
            f"[bold green]{total} requests:[/] the {functions} functions answer like "
            f"{escape(report.app)}"
        )


def _differences_table(title: str, results: list[CaseResult], *, known: bool) -> Table:
    table = Table(title=title, title_justify="left", show_lines=True)
    table.add_column("Request → function", overflow="fold")
    for column in ("What", "Monolith", "Split"):
        table.add_column(column, overflow="fold")
    if known:
        table.add_column("Why", overflow="fold")
    for result in results:
        request = f"{result.case.label}\n→ {result.function or '(gateway)'}"
        if result.case.note:
            request += f"\n({result.case.note})"
        for difference in result.known if known else result.differences:
            row = [request, difference.what, difference.monolith, difference.split]
            if known:
                row.append(difference.reason)
            table.add_row(*(escape(cell) for cell in row))
    return table


def _report_json(report: Report, *, failed: bool) -> dict[str, Any]:
    def rows(kind: str) -> list[dict[str, Any]]:
        return [
            {
                "function": result.function,
                "method": result.case.method,
                "path": result.case.path,
                "query": [list(pair) for pair in result.case.query],
                "note": result.case.note,
                "what": difference.what,
                "monolith": difference.monolith,
                "split": difference.split,
                **({"reason": difference.reason} if kind == "known" else {}),
            }
            for result in report.results
            for difference in (result.known if kind == "known" else result.differences)
        ]

    return {
        "app": report.app,
        "ok": not failed,
        "requests": len(report.results),
        "functions": list(report.functions),
        "unexercised": report.unexercised,
        "differences": rows("differences"),
        "known": rows("known"),
    }


# --- shared -----------------------------------------------------------------------------


def _dist(dist: Path | None, default: Path) -> Path:
    """``fastsplit package --out D`` writes ``D/lambda``: accept D or D/lambda."""
    folder = dist or default
    if (folder / "manifest.json").is_file() and not (folder / "lambda").is_dir():
        return folder
    return folder / "lambda"


def _header(item: str) -> tuple[str, str]:
    name, sep, value = item.partition(":")
    if not sep or not name.strip():
        _fail(f"header {item!r} must look like 'Name: value'")
    return name.strip(), value.strip()


def _assignment(item: str) -> tuple[str, str]:
    name, sep, value = item.partition("=")
    if not sep or not name:
        _fail(f"--env {item!r} must look like NAME=VALUE")
    return name, value


def _run(func: Any) -> Any:
    """Call library code; a user-facing error becomes one line on stderr and exit 1."""
    try:
        return func()
    except FastsplitError as exc:
        _fail(str(exc))


def _fail(message: str) -> NoReturn:
    err_console.print(f"[bold red]error:[/] {escape(message)}")
    raise typer.Exit(code=1)
