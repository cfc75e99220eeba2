"""The ``fastsplit`` command line: the only module that prints or exits."""

from __future__ import annotations

import gc
import json
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from fastsplit import __version__
from fastsplit.background import Background
from fastsplit.cli_local import print_json, progress_bar
from fastsplit.cli_local import register as register_local_commands
from fastsplit.config import Config, load_config
from fastsplit.errors import Diagnostic, FastsplitError
from fastsplit.generator import manifest_data, render_build, with_target_diagnostics
from fastsplit.model import BuildPlan
from fastsplit.packager.deps import GLIBC, MACHINE, Target, default_cache_dir
from fastsplit.parser import load_app_spec
from fastsplit.planner import NOT_SLIM, plan_build, wants_slim
from fastsplit.proof_io import proof_ahead
from fastsplit.prove import prove_plan
from fastsplit.writer import check_out_dir, write_build

app = typer.Typer(
    name="fastsplit",
    help="Split a FastAPI app into per-route serverless functions.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
out_console = Console(highlight=False, soft_wrap=True)
err_console = Console(stderr=True, highlight=False, soft_wrap=True)
# From this many functions, `build` lays its table out on another core (fastsplit.background).
BACKGROUND_TABLE = 100

AppArg = Annotated[
    str | None,
    typer.Argument(
        metavar="APP",
        help="The app as module:attribute, e.g. app.main:app (default: [tool.fastsplit] app).",
        show_default=False,
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
StrictOpt = Annotated[
    bool, typer.Option("--strict", help="Exit with code 1 on warnings too (for CI).")
]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print machine-readable JSON.")]
DocsOpt = Annotated[
    bool | None,
    typer.Option(
        "--docs/--no-docs",
        help="Generate the docs function (/docs, /openapi.json).",
        show_default=False,
    ),
]
FallbackOpt = Annotated[
    bool | None,
    typer.Option(
        "--fallback/--no-fallback",
        help="Generate the catch-all function answering unmatched requests.",
        show_default=False,
    ),
]
ModeOpt = Annotated[
    str | None,
    typer.Option(
        "--mode",
        help="slim (default): each function imports only what its route needs, proven at "
        "build time; full: every function imports the whole app.",
        show_default=False,
    ),
]


def _version(value: bool) -> None:
    if value:
        out_console.print(f"fastsplit {__version__}")
        raise typer.Exit()


@app.callback()
def _main(
    version: Annotated[
        bool | None,
        typer.Option("--version", callback=_version, is_eager=True, help="Show the version."),
    ] = None,
) -> None:
    """Split a FastAPI app into per-route serverless functions."""


@app.command()
def routes(
    app_ref: AppArg = None,
    app_dir: AppDirOpt = None,
    project: ProjectOpt = Path("."),
    docs: DocsOpt = None,
    fallback: FallbackOpt = None,
    mode: ModeOpt = None,
    strict: StrictOpt = False,
    as_json: JsonOpt = False,
) -> None:
    """Show how the app's routes map to functions, with every warning."""
    plan = _run(
        _plan,
        project=project,
        app_ref=app_ref,
        app_dir=app_dir,
        docs=docs,
        fallback=fallback,
        mode=mode,
    )
    if as_json:
        print_json(manifest_data(plan))
    else:
        out_console.print(_routes_table(plan))
    _finish(plan.diagnostics, strict=strict, quiet=as_json)


@app.command()
def build(
    app_ref: AppArg = None,
    app_dir: AppDirOpt = None,
    project: ProjectOpt = Path("."),
    out: Annotated[
        Path | None, typer.Option("--out", "-o", help="Output folder (default: build).")
    ] = None,
    runtime: Annotated[str | None, typer.Option(help="Lambda runtime, e.g. python3.12.")] = None,
    architecture: Annotated[
        str | None, typer.Option(help="x86_64 or arm64 (default for every function).")
    ] = None,
    memory: Annotated[int | None, typer.Option(help="Memory in MB (128-10240).")] = None,
    timeout: Annotated[int | None, typer.Option(help="Timeout in seconds (1-900).")] = None,
    stage: Annotated[str | None, typer.Option(help="Deployment stage (default dev).")] = None,
    region: Annotated[str | None, typer.Option(help="AWS region (default us-east-1).")] = None,
    service: Annotated[
        str | None, typer.Option(help="Service/stack name (default: from the app title).")
    ] = None,
    docs: DocsOpt = None,
    fallback: FallbackOpt = None,
    mode: ModeOpt = None,
    target: Annotated[str, typer.Option(help="What to build for: lambda, vercel or all.")] = "all",
    requirements: Annotated[
        Path | None,
        typer.Option(
            help="The app's requirements for Vercel (default: requirements.txt or pyproject)."
        ),
    ] = None,
    strict: StrictOpt = False,
    as_json: JsonOpt = False,
) -> None:
    """Write one function per route for Lambda (handlers, serverless.yml, template.yaml)
    and Vercel (build/vercel: a project with vercel.json), plus manifest.json."""
    platforms = _platforms(target)
    flags = {
        "mode": mode,
        "out": out,
        "runtime": runtime,
        "architecture": architecture,
        "memory": memory,
        "timeout": timeout,
        "stage": stage,
        "region": region,
        "service": service,
    }
    plan, config = _run(
        _plan_with_config,
        project=project,
        app_ref=app_ref,
        app_dir=app_dir,
        docs=docs,
        fallback=fallback,
        **flags,
    )
    if "vercel" in platforms:
        from fastsplit.packager.vercel_output import project_requirements

        found = _run(
            lambda: project_requirements(
                requirements_file=requirements or config.requirements, project_dir=project
            )
        )
        plan = replace(plan, requirements=found)
    plan = with_target_diagnostics(plan, platforms=platforms)
    _stop_on_problems(plan.diagnostics, strict=strict)
    # A big build's table (rich takes a while over a thousand rows) is laid out on
    # another core while the build is rendered and written, and printed once it is.
    table = None
    if not as_json and len(plan.functions) >= BACKGROUND_TABLE:
        table = Background(lambda: _captured(_functions_table(plan)))
    try:
        outputs = render_build(plan, platforms=platforms)
        _run(lambda: write_build(outputs, out=config.out, app_dir=config.app_dir))
    except BaseException:
        if table is not None:
            table.cancel()
        raise
    if as_json:
        print_json(manifest_data(plan))
    elif table is not None:
        out_console.file.write(table.result())
    else:
        out_console.print(_functions_table(plan))
    _finish(plan.diagnostics, strict=strict, quiet=as_json)
    if not as_json:
        err_console.print(f"Built {len(plan.functions)} functions into {config.out}/", markup=False)


@app.command("explain")
def explain_command(
    function: Annotated[str, typer.Argument(metavar="FUNCTION", help="A function of the build.")],
    what: Annotated[
        str | None,
        typer.Argument(
            metavar="[NAME]",
            help="Only this module, package or distribution: the chain that pulled it in.",
            show_default=False,
        ),
    ] = None,
    project: ProjectOpt = Path("."),
    build_dir: Annotated[
        Path | None, typer.Option("--build", help="The build folder (default: build).")
    ] = None,
) -> None:
    """Say why each module and distribution is in a function (the import chains)."""
    from fastsplit.explain import explain

    config = _run(lambda: load_config(project))
    lines = _run(lambda: explain(build_dir or config.out, function, what=what))
    for line in lines:
        out_console.print(line, markup=False)


def _platforms(target: str) -> tuple[str, ...]:
    choices = {"lambda": ("lambda",), "vercel": ("vercel",), "all": ("lambda", "vercel")}
    if target not in choices:
        _fail(f"--target {target!r} is not supported; use lambda, vercel or all")
    return choices[target]


@app.command("package")
def package_command(
    target: Annotated[str, typer.Option(help="What to package for: lambda or vercel.")] = "lambda",
    project: ProjectOpt = Path("."),
    build_dir: Annotated[
        Path | None, typer.Option("--build", help="The build folder (default: build).")
    ] = None,
    out: Annotated[
        Path | None, typer.Option("--out", "-o", help="Output folder (default: dist).")
    ] = None,
    python: Annotated[
        str | None, typer.Option(help="Target Python, 3.10-3.14 (default: the build's).")
    ] = None,
    arch: Annotated[
        str | None, typer.Option(help="x86_64 or arm64 (default: the build's).")
    ] = None,
    requirements: Annotated[
        Path | None,
        typer.Option(help="Requirements file (default: requirements.txt or pyproject)."),
    ] = None,
    exclude: Annotated[
        list[str] | None, typer.Option(help="Glob of files never to package (repeatable).")
    ] = None,
    jobs: Annotated[int, typer.Option(help="Zips built in parallel (0: cores + 2).")] = 0,
    layer: Annotated[
        bool, typer.Option(help="Put the shared dependencies into one Lambda layer.")
    ] = False,
    include_boto3: Annotated[
        bool, typer.Option(help="Bundle boto3/botocore although Lambda provides them.")
    ] = False,
    cache_dir: Annotated[
        Path | None, typer.Option(help="Dependency cache (default: ~/.cache/fastsplit).")
    ] = None,
    vercel: Annotated[
        str | None, typer.Option(help="Vercel CLI to run for --target vercel (default: vercel).")
    ] = None,
    prod: Annotated[
        bool, typer.Option(help="--target vercel: build for `vercel deploy --prebuilt --prod`.")
    ] = False,
    strict: StrictOpt = False,
    as_json: JsonOpt = False,
) -> None:
    """Zip each built function with its dependencies (lambda), or run `vercel build` on
    build/vercel for `vercel deploy --prebuilt` (vercel)."""
    from fastsplit.packager import lambda_zip

    if target not in ("lambda", "vercel"):
        _fail(f"--target {target!r} is not supported; use --target lambda or vercel")
    config = _run(lambda: load_config(project))
    build = build_dir or config.out
    if target == "vercel":
        _package_vercel(build, (out or config.dist) / "vercel", vercel=vercel, prod=prod)
        return
    manifest = _run(lambda: lambda_zip.read_manifest(build))
    default = lambda_zip.target_from_manifest(manifest)
    chosen = Target(python=python or default.python, arch=arch or default.arch)
    if chosen.python not in GLIBC:
        _fail(f"--python {chosen.python} is not a Lambda Python; use 3.10 to 3.14")
    if jobs < 0:
        _fail(f"--jobs {jobs} must be 0 (automatic) or a positive number")
    if chosen.arch not in MACHINE:
        _fail(f"--arch {chosen.arch} is not supported; use x86_64 or arm64")
    options = lambda_zip.Options(
        build=build,
        out=(out or config.dist) / "lambda",
        target=chosen,
        project_dir=project,
        cache_dir=cache_dir or default_cache_dir(),
        requirements_file=requirements or config.requirements,
        exclude=(*config.exclude, *(exclude or [])),
        jobs=jobs,
        layer=layer,
        include_runtime=include_boto3,
    )
    count = len(manifest.get("functions", []))
    with progress_bar(disable=as_json) as bar:
        task = bar.add_task(f"Packaging for {chosen.describe()}", total=count)
        result = _run(lambda: lambda_zip.package(options, progress=lambda _: bar.advance(task)))
    if as_json:
        print_json(json.loads((options.out / "manifest.json").read_text(encoding="utf-8")))
    else:
        out_console.print(_artifacts_table(result))
    _finish(result.diagnostics, strict=strict, quiet=as_json)
    if not as_json:
        source = "installed" if result.installed else "from cache, no install"
        err_console.print(
            f"Packaged {len(result.artifacts)} functions into {options.out}/ "
            f"(dependencies {result.dependency_key}: {source})",
            markup=False,
        )


def _package_vercel(build: Path, out: Path, *, vercel: str | None, prod: bool) -> None:
    import shlex

    from fastsplit.packager import vercel_output

    options = vercel_output.Options(
        project=build / "vercel",
        out=out,
        vercel=tuple(shlex.split(vercel)) if vercel else ("vercel",),
        prod=prod,
    )
    with err_console.status("Running vercel build"):
        result = _run(lambda: vercel_output.package(options))
    err_console.print(
        f"Built {len(result.functions)} Vercel functions into {result.output}/; deploy with "
        f"`cd {out} && vercel deploy --prebuilt{' --prod' if prod else ''}`",
        markup=False,
    )


def _artifacts_table(result: Any) -> Table:
    table = Table(title="Artifacts", title_justify="left")
    table.add_column("Function", no_wrap=True)
    for column in ("Zipped", "Unzipped", "sha256"):
        table.add_column(column, justify="right" if column != "sha256" else "left")
    rows = list(result.artifacts) + ([result.layer] if result.layer else [])
    for artifact in rows:
        table.add_row(
            artifact.name,
            _size(artifact.size),
            _size(artifact.unzipped),
            artifact.sha256[:12],
        )
    return table


def _size(size: int) -> str:
    return f"{size / (1024 * 1024):.1f} MB" if size >= 1024 * 1024 else f"{size / 1024:.0f} kB"


def _fail(message: str) -> None:
    err_console.print(f"[bold red]error:[/] {_escape(message)}")
    raise typer.Exit(code=1)


def _plan(**options: Any) -> BuildPlan:
    return _plan_with_config(**options)[0]


def _plan_with_config(
    *, project: Path, app_ref: str | None, app_dir: Path | None, **flags: Any
) -> tuple[BuildPlan, Config]:
    config = load_config(project).with_overrides(app=app_ref, app_dir=app_dir, **flags)
    if not config.app:
        raise FastsplitError(
            "no app given: pass APP (e.g. 'app.main:app') or set app in [tool.fastsplit]"
        )
    if "out" in flags:  # only `build` writes; `routes` ignores the output folder
        check_out_dir(config.out)
    # Importing the app must not write __pycache__ folders into the user's tree.
    sys.dont_write_bytecode = True
    _freeze_heap()
    # The proof's probe starts first: it imports what every slim handler starts with
    # while this process imports and describes the app (stopped if nothing is slim).
    with proof_ahead(config.app_dir) as ahead:
        with _collector_paused():
            spec = load_app_spec(
                config.app, app_dir=config.app_dir, recipes=lambda spec: wants_slim(spec, config)
            )
        plan = prove_plan(plan_build(spec, config), app_dir=config.app_dir, ahead=ahead)
    return plan, config


def _run(func: Any, **kwargs: Any) -> Any:
    """Call library code; a user-facing error becomes one line on stderr and exit 1."""
    try:
        return func(**kwargs)
    except FastsplitError as exc:
        err_console.print(f"[bold red]error:[/] {_escape(str(exc))}")
        raise typer.Exit(code=1) from None


def _stop_on_problems(diagnostics: tuple[Diagnostic, ...], *, strict: bool) -> None:
    errors = [d for d in diagnostics if d.level == "error"]
    warnings = [d for d in diagnostics if d.level == "warning"]
    if errors or (strict and warnings):
        _print_diagnostics(diagnostics)
        reason = f"{len(errors)} error(s)" if errors else f"{len(warnings)} warning(s) (--strict)"
        err_console.print(f"Build stopped: {reason}; nothing was written.")
        raise typer.Exit(code=1)


def _finish(diagnostics: tuple[Diagnostic, ...], *, strict: bool, quiet: bool) -> None:
    if not quiet:
        _print_diagnostics(diagnostics)
    if any(d.level == "error" for d in diagnostics) or (
        strict and any(d.level == "warning" for d in diagnostics)
    ):
        raise typer.Exit(code=1)


def _print_diagnostics(diagnostics: tuple[Diagnostic, ...]) -> None:
    colours = {"error": "bold red", "warning": "yellow", "info": "cyan"}
    for diagnostic in diagnostics:
        err_console.print(
            f"[{colours[diagnostic.level]}]{diagnostic.level}:[/] "
            f"{_escape(diagnostic.where)}: {_escape(diagnostic.message)}"
        )


def _escape(text: str) -> str:
    from rich.markup import escape

    return escape(text)


def _routes_table(plan: BuildPlan) -> Table:
    table = Table(title=f"{plan.spec.app}: {len(plan.functions)} functions", title_justify="left")
    table.add_column("Function", no_wrap=True)
    table.add_column("Mode", no_wrap=True)
    table.add_column("Methods", overflow="fold")
    # Wide enough for the fallback's "(no route matched)" on an 80-column terminal.
    table.add_column("Path", overflow="fold", min_width=18)
    for column in ("Endpoint", "Notes"):
        table.add_column(column, overflow="fold")
    notes: dict[str, list[str]] = {}
    for diagnostic in plan.diagnostics:
        if diagnostic.message.startswith(NOT_SLIM):
            continue  # the Mode column says it; the reason is printed below the table
        notes.setdefault(diagnostic.where, []).append(f"{diagnostic.level}: {diagnostic.message}")
    shown: set[str] = set()
    for function in plan.functions:
        if function.kind == "fallback":
            table.add_row(
                function.name,
                "full" if function.mode == "full" else "-",
                "ANY",
                "(no route matched)",
                "-",
                _escape("; ".join(notes.get("fallback", []))),
            )
            continue
        for route in function.routes:
            shown.add(route.key)
            table.add_row(
                function.name,
                function.mode,
                ", ".join(route.methods) or "ANY",
                _escape(route.path),
                _escape(route.endpoint),
                _escape("; ".join(notes.get(route.key, []))),
            )
    for where, messages in notes.items():
        if where not in shown and where not in ("fallback", plan.spec.app):
            method, _, path = where.partition(" ")
            table.add_row("-", "-", method, _escape(path), "-", _escape("; ".join(messages)))
    return table


def _captured(table: Table) -> str:
    """What printing ``table`` on the output console writes (with its colours)."""
    with out_console.capture() as capture:
        out_console.print(table)
    return capture.get()


def _functions_table(plan: BuildPlan) -> Table:
    table = Table(title="Functions", title_justify="left")
    table.add_column("Function", no_wrap=True)
    for column in ("Routes", "Memory", "Timeout", "Arch"):
        table.add_column(column, overflow="fold")
    for function in plan.functions:
        events = ", ".join(f"{e.method} {e.path}" for e in function.events)
        settings = function.settings
        table.add_row(
            function.name,
            _escape(events),
            f"{settings.memory} MB",
            f"{settings.timeout} s",
            settings.architecture,
        )
    return table


register_local_commands(app)  # serve, invoke, verify


_FREEZE = False  # set by main(): only a process that runs one command freezes its heap


def _freeze_heap() -> None:
    """What is loaded now (fastsplit, FastAPI, then the app) lives until the command
    ends: keep it out of the garbage collector's full passes, which would walk all of it
    again and again (over a second on a 1,000-route app). Not in a process that goes on
    to other work (tests run commands in-process), where it would keep garbage alive."""
    if _FREEZE:
        gc.freeze()


@contextmanager
def _collector_paused() -> Iterator[None]:
    """No garbage collection while the app is imported and described, then the heap
    frozen (:func:`_freeze_heap`) before the collector runs again: each full pass would
    walk every object the import made so far (a third of a second on a 1,000-route app,
    and as much in the forked child that makes the OpenAPI schema), and the first pass
    after the pause all of them at once. Cycles left behind live until the command ends."""
    if not _FREEZE or not gc.isenabled():
        yield
        return
    gc.disable()
    try:
        yield
    finally:
        _freeze_heap()
        gc.enable()


def main() -> None:
    global _FREEZE
    _FREEZE = True
    app()
