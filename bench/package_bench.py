"""Packaging benchmark (issue 4): fastsplit package next to sam build and osls, same run.

    python -m bench.package_bench [--quick] [--runs N] [--routes 30] [--skip-incumbents]

Measures, offline (see bench/harness.py):

* ``fastsplit package`` cold (empty dependency cache, new HOME) and warm (same cache) for
  example_app and a generated app of ``--routes`` routes, one function per route;
* on that app, the incumbents: ``sam build --cached --parallel`` on a fresh project (cold)
  and again (warm); ``osls package`` with serverless-python-requirements with an empty
  (cold) and a filled (warm) plugin cache;
* fastsplit's warm cost per function with a small and a large dependency set.

Prints a markdown report and saves it into bench/results.md. It only reports: targets
are marked met or not met, and the exit code is 0 unless a tool could not run at all.
Quick mode (about a minute and a half on an idle machine): one run each, incumbents on a
5-route app, osls cold only, a smaller "large" dependency set.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

from bench import summary
from bench.apps import write_app
from bench.harness import REPO_ROOT, find_tools, wheelhouse
from bench.measure import Bench, say, standalone
from bench.report import Comparison, Report, Timing

SMALL_APP_ROUTES = 5  # the second app size: marginal cost per function, quick incumbents


def _pins(*names: str) -> list[str]:
    """Pinned to what the dev venv runs, so the bench packages what fastsplit imported."""
    return [f"{name}=={metadata.version(name)}" for name in names]


# What the generated app imports, plus the Lambda adapter the handlers run on.
APP_REQUIREMENTS = _pins("fastapi", "pydantic", "mangum")
LARGE_REQUIREMENTS = [*APP_REQUIREMENTS, "numpy==2.4.6", "pandas==3.1.1"]
LARGE_REQUIREMENTS_QUICK = [*APP_REQUIREMENTS, "numpy==2.4.6"]


@dataclass(frozen=True)
class Settings:
    quick: bool
    runs: int
    routes: int
    incumbents: bool
    keep: bool
    osls_warm: bool = True
    """A warm osls run: minutes, and no faster than a cold one (``make bench`` skips it)."""
    sam_plain: bool = True
    """Plain cold ``sam build`` (``make bench`` judges against --cached --parallel)."""
    osls: bool = True
    """osls at all (``make bench-quick`` skips it: half a minute even on 5 routes)."""


def run(settings: Settings, work: Path) -> Report:
    started, load_before = time.monotonic(), os.getloadavg()[0]
    quick = settings.quick
    say(f"fastsplit packaging benchmark ({'quick' if quick else 'full'}), work folder {work}")
    tools = find_tools(work, incumbents=settings.incumbents)
    large_lines = LARGE_REQUIREMENTS_QUICK if quick else LARGE_REQUIREMENTS
    # One wheelhouse for both modes: every set the bench may install.
    wheels = wheelhouse([APP_REQUIREMENTS, LARGE_REQUIREMENTS, _example_requirements()])
    bench = Bench(work, runs=settings.runs, tools=tools, wheels=wheels)

    example = bench.build("example_app", "example_app.main:app", REPO_ROOT)
    # One function per route, each shipping every requirement, like SAM's template (and
    # so that the dependency-size table measures functions that carry the whole set: a
    # slim function would leave numpy and pandas out).
    flags = ("--no-docs", "--no-fallback", "--mode", "full", "--target", "lambda")
    big_app = write_app(work / "apps" / "big", routes=settings.routes)
    big = bench.build(f"shopapi-{settings.routes}", big_app.app_ref, big_app.app_dir, *flags)
    small_app = write_app(work / "apps" / "small", routes=SMALL_APP_ROUTES)
    small_name = f"shopapi-{SMALL_APP_ROUTES}"
    small = bench.build(small_name, small_app.app_ref, small_app.app_dir, *flags)
    app_reqs = bench.requirements("app", APP_REQUIREMENTS)
    report = Report(title=f"Packaging benchmark, {'quick' if quick else 'full'} mode")

    say("example_app")
    example_reqs = bench.requirements("example", _example_requirements())
    ex_cold, ex_warm = bench.cold_warm(example, example_reqs)
    report.rows.append(Comparison("example_app", "warm vs cold cache", ex_warm, ex_cold))

    # A cold 30-function `sam build` and osls run take minutes each: quick mode runs the
    # incumbents (and fastsplit next to them) on the small app instead.
    contest = small if quick else big
    say(contest.name)
    cold, warm = bench.cold_warm(contest, app_reqs)
    report.rows.append(Comparison(contest.name, "warm vs cold cache", warm, cold))
    sam_plain: Timing | None = None
    sam_cold: Timing | None = None
    sam_warm: Timing | None = None
    if settings.incumbents:
        say(f"{contest.name}: AWS SAM")
        # Plain `sam build` is the cold baseline; --cached --parallel is SAM's
        # fastest cold build and the one a warm build needs first.
        # Without plain `sam build`, the cold cached build runs one function after the
        # other, as plain `sam build` does, and is the cold baseline.
        sam_plain, sam_cold, sam_warm = bench.sam(
            contest,
            app_reqs,
            plain=settings.sam_plain and not quick,
            sequential_cold=not settings.sam_plain and not quick,
        )
        osls_cold: Timing | None = None
        osls_warm: Timing | None = None
        if settings.osls:
            say(f"{contest.name}: osls + serverless-python-requirements")
            osls_cold, osls_warm = bench.osls(
                contest, app_reqs, warm=settings.osls_warm and not quick
            )
        plain_note = "not run (quick)" if quick else "not run (`make bench`: --cached below)"
        report.rows += [
            Comparison(contest.name, "cold (empty caches)", cold, sam_plain, plain_note),
            Comparison(contest.name, "cold (empty caches)", cold, sam_cold),
            Comparison(contest.name, "cold (empty caches)", cold, osls_cold, "osls not run"),
            Comparison(contest.name, "warm (filled caches)", warm, sam_warm),
            Comparison(
                contest.name,
                "warm (filled caches)",
                warm,
                osls_warm,
                "not run (quick)" if quick else "not run (`make bench` skips it)",
            ),
            Comparison(contest.name, "warm, per function", warm.per(), sam_warm.per()),
        ]
        if osls_warm is not None:
            report.rows.append(
                Comparison(contest.name, "warm, per function", warm.per(), osls_warm.per())
            )

    say(f"{big.name} and {small.name}: small and large dependency sets")
    report.deps = [
        bench.deps_row("small", app_reqs, big, small),
        bench.deps_row("large", bench.requirements("large", large_lines), big, small),
    ]
    context = summary.Context(
        quick=quick,
        runs=settings.runs,
        incumbents=settings.incumbents,
        example_functions=example.functions,
        big=big.name,
        big_functions=big.functions,
        small=small.name,
        small_functions=small.functions,
        contest=contest.name,
        requirements=APP_REQUIREMENTS,
        load_before=load_before,
        elapsed=time.monotonic() - started,
        osls_warm=settings.osls_warm,
        osls=settings.osls,
        sam_plain=settings.sam_plain,
    )
    report.targets = summary.targets(
        context, cold, warm, sam_plain or sam_cold, sam_warm, report.deps
    )
    report.header = summary.header(context)
    report.notes = summary.notes(context)
    return report


def _example_requirements() -> list[str]:
    text = (REPO_ROOT / "example_app" / "requirements.txt").read_text(encoding="utf-8")
    lines = [line.split("#", 1)[0].strip() for line in text.splitlines()]
    return [line for line in lines if line] + _pins("mangum")


def parse(argv: Sequence[str] | None) -> Settings:
    parser = argparse.ArgumentParser(
        prog="python -m bench.package_bench",
        description="Packaging benchmark: fastsplit package next to sam build and osls.",
    )
    parser.add_argument(
        "--quick", action="store_true", help="1 run each, incumbents on a 5-route app"
    )
    parser.add_argument("--runs", type=int, help="runs per measurement (default 3, quick 1)")
    parser.add_argument("--routes", type=int, default=30, help="routes of the generated app")
    parser.add_argument("--skip-incumbents", action="store_true", help="fastsplit only")
    parser.add_argument("--keep", action="store_true", help="keep the work folder (logs)")
    parser.add_argument(
        "--no-osls-warm", action="store_true", help="skip the warm osls run (minutes)"
    )
    args = parser.parse_args(argv)
    runs = args.runs if args.runs is not None else (1 if args.quick else 3)
    if runs < 1:
        parser.error("--runs must be at least 1")
    if args.routes <= SMALL_APP_ROUTES:
        parser.error(f"--routes must be more than {SMALL_APP_ROUTES}")
    return Settings(
        args.quick,
        runs,
        args.routes,
        not args.skip_incumbents,
        args.keep,
        osls_warm=not args.no_osls_warm,
    )


def main(argv: Sequence[str] | None = None) -> int:
    settings = parse(argv)
    # A fastsplit-only run gets its own section: it must not replace a comparison.
    key = ("quick" if settings.quick else "full") + ("" if settings.incumbents else "-fastsplit")
    return standalone("run-", key, lambda work: run(settings, work).markdown(), keep=settings.keep)


if __name__ == "__main__":
    sys.exit(main())
