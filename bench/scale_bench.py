"""Scale benchmark (issue 7, sections 1 and 2): how `routes`, `build` and `package` grow.

    python -m bench.scale_bench [--quick] [--timeout S] [--keep]

1. ``fastsplit routes`` and ``fastsplit build`` (default slim mode, and ``--mode full``)
   on generated shop APIs of 10, 100 and 1,000 routes: wall and CPU time, memory (see
   bench/treerun.py), the same minus the app's own import (measured alone in a fresh
   interpreter), per route, and the growth from 100 to 1,000 routes.
2. ``fastsplit package --target lambda`` on example_app and the 100-route app, cold and
   warm dependency cache, offline (bench/harness.py, as bench/package_bench.py does).

It only reports: :func:`run` returns a markdown section, ``main`` also saves it into
bench/results.md (``scale-quick`` / ``scale-full``). A run that passes ``--timeout`` is
stopped and reported as such, and the larger apps of that command are then skipped; so
is a run whose linear extrapolation from the two smaller apps is over the limit.
"""

from __future__ import annotations

import argparse
import compileall
import json
import os
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from functools import partial
from pathlib import Path

from bench import scale_report
from bench.apps import GeneratedApp, write_app
from bench.harness import REPO_ROOT, find_tools, offline_env, wheelhouse
from bench.measure import Bench, Built, say, standalone
from bench.package_bench import APP_REQUIREMENTS, LARGE_REQUIREMENTS, _example_requirements
from bench.report import Timing
from bench.treerun import TreeRun, run_tree

FULL_SIZES = (10, 100, 1000)
QUICK_SIZES = (100, 1000)  # the growth target is 100 → 1,000
FULL_TIMEOUT = 60.0
QUICK_TIMEOUT = 12.0
REPEAT_BUDGET = 25.0
"""No further runs of a measurement once its runs took this long (seconds of wall)."""
PACKAGE_APP_ROUTES = 100
WITHIN_ALL_QUICK_SIZES = (10, 100)

# (key, label, fastsplit arguments after APP --app-dir DIR); {out} is the build folder.
COMMANDS: tuple[tuple[str, str, tuple[str, ...]], ...] = (
    ("routes", "`routes`", ("routes",)),
    ("build", "`build` (slim, the default)", ("build", "--out", "{out}", "--target", "lambda")),
    (
        "build-full",
        "`build --mode full`",
        ("build", "--out", "{out}", "--target", "lambda", "--mode", "full"),
    ),
)
IMPORT = "import"


@dataclass(frozen=True)
class Measured:
    """One command on one app: every finished run, or why there is none."""

    key: str
    routes: int
    runs: tuple[TreeRun, ...] = ()
    """The timed runs (no memory sampling)."""
    memory: TreeRun | None = None
    """The run that sampled the tree's memory (its times are not counted)."""
    stopped: float | None = None
    """The time limit a run hit (the runs before it are kept but not reported)."""
    failed: str | None = None
    skipped: str | None = None
    expected: float | None = None
    """Seconds a skipped run was expected to take (linear extrapolation)."""

    @property
    def ok(self) -> bool:
        return bool(self.runs) and not (self.stopped or self.failed or self.skipped)

    @property
    def wall(self) -> float:
        return _median([run.wall for run in self.runs])

    @property
    def cpu(self) -> float:
        return _median([run.cpu for run in self.runs])

    @property
    def max_rss(self) -> int:
        runs = [*self.runs, self.memory] if self.memory else self.runs
        return max(run.max_rss for run in runs)

    @property
    def peak_pss(self) -> int:
        return self.memory.peak_pss if self.memory else 0


@dataclass
class Results:
    quick: bool
    timeout: float
    sizes: tuple[int, ...]
    load_before: float
    repeat_budget: float = REPEAT_BUDGET
    started: float = field(default_factory=time.monotonic)
    scale: dict[tuple[str, int], Measured] = field(default_factory=dict)
    package: list[tuple[str, int, Timing, Timing]] = field(default_factory=list)
    """(app, functions, cold, warm)."""
    package_note: str = ""


def run(quick: bool, work: Path, *, timeout: float | None = None, within_all: bool = False) -> str:
    """Both sections, measured in ``work``; the markdown section for bench/results.md.

    ``within_all``: part of ``python -m bench``, which must keep to its time budget and
    whose packaging section has example_app already: example_app is not packaged here,
    and quick mode measures 10 and 100 routes with no package section.
    """
    _this_checkout_first()
    limit = timeout or (QUICK_TIMEOUT if quick else FULL_TIMEOUT)
    sizes = QUICK_SIZES if quick else FULL_SIZES
    if quick and within_all:
        sizes = WITHIN_ALL_QUICK_SIZES
    results = Results(quick, limit, sizes, os.getloadavg()[0])
    say(f"fastsplit scale benchmark ({'quick' if quick else 'full'}), work folder {work}")
    apps = {n: _app(work, n) for n in sizes}
    runner = _Runner(work, limit, runs=1 if quick else 3)
    for n in sizes:
        importing = partial(_import_command, apps[n])
        results.scale[IMPORT, n] = runner.measure(IMPORT, apps[n], importing)
    for key, _, args in COMMANDS:
        for n in sizes:
            skip = _hopeless(results, key, n)
            if skip is not None:
                say(f"  {key}, {n} routes: skipped: {skip.skipped}")
                results.scale[key, n] = skip
                continue
            results.scale[key, n] = runner.measure(key, apps[n], partial(_fastsplit, apps[n], args))
    if not (quick and within_all):
        _package(results, runner, work, apps.get(PACKAGE_APP_ROUTES), example=not within_all)
    return scale_report.markdown(results, elapsed=time.monotonic() - results.started)


def _hopeless(results: Results, key: str, routes: int) -> Measured | None:
    """``key`` on ``routes`` routes as skipped, if running it would only hit the limit.

    That is when a smaller app already stopped or was skipped, or when the cost per route
    between the two smaller apps, carried on to ``routes`` (linear: per-function work does
    not shrink as the app grows), gives more than the limit.
    """
    limit = results.timeout
    smaller = [results.scale[key, n] for n in results.sizes if n < routes]
    for item in smaller:
        if item.stopped or item.skipped:
            why = "stopped" if item.stopped else "skipped"
            return Measured(key, routes, skipped=f"{why} on the {item.routes}-route app")
    if len(smaller) < 2 or not all(item.ok for item in smaller[-2:]):
        return None
    a, b = smaller[-2:]
    expected = b.wall + (routes - b.routes) * (b.wall - a.wall) / (b.routes - a.routes)
    if expected <= limit:
        return None
    reason = (
        f"expected ≈ {expected:.0f} s, over the {limit:.0f} s limit (linear from "
        f"{a.routes} and {b.routes} routes)"
    )
    return Measured(key, routes, skipped=reason, expected=expected)


def _this_checkout_first() -> None:
    """Subprocesses run this checkout's fastsplit, whatever the venv's install points to."""
    paths = os.environ.get("PYTHONPATH", "").split(os.pathsep)
    if str(REPO_ROOT) not in paths:
        os.environ["PYTHONPATH"] = os.pathsep.join([str(REPO_ROOT), *filter(None, paths)])


def _app(work: Path, routes: int) -> GeneratedApp:
    # Models split per resource, as a large app is: each route imports its own models,
    # not one module that grows with the app (see bench/README.md).
    app = write_app(work / "apps" / f"shopapi-{routes}", routes=routes, models_per_resource=True)
    # Bytecode, as an app that has run before has: no run pays for compiling it.
    compileall.compile_dir(app.app_dir, quiet=1)
    return app


def _import_command(app: GeneratedApp, out: Path | None = None) -> list[object]:
    """Python importing the app (``out``, an output folder, is not used)."""
    module = app.app_ref.split(":", 1)[0]
    code = f"import sys; sys.path.insert(0, {str(app.app_dir)!r}); import {module}"
    return [sys.executable, "-c", code]


def _fastsplit(app: GeneratedApp, args: Sequence[str], out: Path) -> list[object]:
    rest = [arg.format(out=out) for arg in args]
    command, options = rest[0], rest[1:]
    return [
        sys.executable, "-m", "fastsplit", command, app.app_ref, "--app-dir", app.app_dir,
        *options,
    ]  # fmt: skip


class _Runner:
    """Measures commands one after the other, each in its own HOME, pycache allowed.

    Every run writes into a folder of its own, never one just emptied: the builds are
    removed with the work folder at the end. (On a file system that avoids reusing
    recently freed inodes, such as ext4 without a journal, creating thousands of files
    right after deleting thousands is slower: an effect of the previous run's clean-up,
    not of the command measured.)
    """

    def __init__(self, work: Path, timeout: float, *, runs: int) -> None:
        self.work = work
        self.timeout = timeout
        self.runs = runs
        self.env = offline_env(work / "home-scale")
        # The app's bytecode was compiled in advance; fastsplit's own is in the checkout.
        self.env.pop("PYTHONDONTWRITEBYTECODE", None)
        self._counter = 0
        self._last: dict[tuple[str, int], Path] = {}

    def out(self, key: str, routes: int) -> Path:
        """The output folder of the last finished run of ``key`` on ``routes`` routes."""
        return self._last[key, routes]

    def measure(
        self, key: str, app: GeneratedApp, command: Callable[[Path], list[object]]
    ) -> Measured:
        """The command (``command(output folder)``) timed up to ``self.runs`` times
        (within the repeat budget), then run once more to sample its memory."""
        runs: list[TreeRun] = []
        while len(runs) < self.runs and sum(run.wall for run in runs) < REPEAT_BUDGET:
            result = self._run(key, app, command, sample=False)
            if isinstance(result, Measured):
                return replace(result, runs=tuple(runs)) if result.stopped else result
            runs.append(result)
        sampled = self._run(key, app, command, sample=True)
        # A sampled run that failed (it finished before) leaves the times, without PSS.
        memory = sampled if isinstance(sampled, TreeRun) else None
        measured = Measured(key, app.routes, tuple(runs), memory=memory)
        say(
            f"  {key}, {app.routes} routes: {measured.wall:.2f} s (CPU {measured.cpu:.2f} s, "
            f"{len(runs)} run(s)), max RSS {measured.max_rss / 2**20:.0f} MiB, "
            f"peak PSS {measured.peak_pss / 2**20:.0f} MiB"
        )
        return measured

    def _run(
        self, key: str, app: GeneratedApp, command: Callable[[Path], list[object]], *, sample: bool
    ) -> TreeRun | Measured:
        """One run in a new output folder; a :class:`Measured` saying why if it failed."""
        self._counter += 1
        name = f"{self._counter:03d}-{key}-{app.routes}"
        out = self.work / "builds" / name
        log = self.work / "logs" / f"{name}.log"
        result = run_tree(
            command(out), cwd=self.work, env=self.env, log=log, timeout=self.timeout, sample=sample
        )
        if result.stopped:
            say(f"  {key}, {app.routes} routes: stopped at {self.timeout:.0f} s")
            return Measured(key, app.routes, stopped=self.timeout)
        if result.returncode != 0:
            lines = log.read_text(errors="replace").strip().splitlines() or ["(no output)"]
            say(f"  {key}, {app.routes} routes: exit {result.returncode}: {lines[-1]}")
            return Measured(key, app.routes, failed=f"exit {result.returncode}: {lines[-1]}")
        self._last[key, app.routes] = out
        return result


def _package(
    results: Results, runner: _Runner, work: Path, app: GeneratedApp | None, *, example: bool
) -> None:
    """Section 2: cold and warm ``fastsplit package`` (quick: the 100-route app only)."""
    wheels = wheelhouse([APP_REQUIREMENTS, LARGE_REQUIREMENTS, _example_requirements()])
    bench = Bench(
        work / "package",
        runs=1,  # package_bench repeats these; one run keeps `make bench` within its budget
        tools=find_tools(work, incumbents=False),
        wheels=wheels,
    )
    bench.work.mkdir(parents=True, exist_ok=True)
    if example and not results.quick:
        say("package: example_app")
        built = bench.build("example_app", "example_app.main:app", REPO_ROOT)
        reqs = bench.requirements("example", _example_requirements())
        results.package.append(("example_app", built.functions, *bench.cold_warm(built, reqs)))
    if app is None:
        return
    # The 100-route build of section 1 (the slim one if it finished, else the full one).
    for key in ("build", "build-full"):
        if results.scale[key, app.routes].ok:
            break
    else:
        results.package_note = f"no {app.routes}-route build finished: not packaged"
        return
    out = runner.out(key, app.routes)
    manifest = json.loads((out / "manifest.json").read_text(encoding="utf-8"))
    name = f"shopapi-{app.routes}"
    built = Built(name, out, len(manifest["functions"]))
    which = "slim build" if key == "build" else "`--mode full` build: the slim one did not finish"
    results.package_note = f"{name} is packaged from section 1's {which}"
    say(f"package: {name}")
    reqs = bench.requirements("app", APP_REQUIREMENTS)
    results.package.append((name, built.functions, *bench.cold_warm(built, reqs)))


def _median(values: list[float]) -> float:
    ordered = sorted(values)
    middle = len(ordered) // 2
    if len(ordered) % 2:
        return ordered[middle]
    return (ordered[middle - 1] + ordered[middle]) / 2


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.scale_bench",
        description="Scale benchmark: routes/build on 10-1,000 routes, package cold/warm.",
    )
    parser.add_argument(
        "--quick", action="store_true", help="100 and 1,000 routes, 1 run each, shorter limit"
    )
    parser.add_argument(
        "--timeout",
        type=float,
        help=f"stop a run after this many seconds (default {FULL_TIMEOUT:.0f}, "
        f"quick {QUICK_TIMEOUT:.0f})",
    )
    parser.add_argument("--keep", action="store_true", help="keep the work folder (logs)")
    args = parser.parse_args(argv)
    key = "scale-quick" if args.quick else "scale-full"
    return standalone(
        "scale-", key, lambda work: run(args.quick, work, timeout=args.timeout), keep=args.keep
    )


if __name__ == "__main__":
    sys.exit(main())
