"""``make bench`` / ``make bench-quick``: every benchmark in one run, as ratios.

    python -m bench [--quick] [--skip-incumbents] [--only scale,runtime,package]

Runs, one after the other (never two measurements at once), and prints and saves into
bench/results.md:

* ``scale``: ``fastsplit routes`` and ``build`` on generated 10/100/1000-route apps, and
  packaging example_app and the 100-route app cold and warm (bench/scale_bench.py);
* ``runtime``: cold start, invocation overhead and artifact sizes of generated functions
  next to plain Mangum and a hand-written single-route file, and the slim benchmark on a
  heavy/light app (bench/runtime_bench.py);
* ``package``: ``fastsplit package`` next to ``sam build`` and osls +
  serverless-python-requirements (bench/package_bench.py).

It only reports: every target is marked met or not met; the exit code is 0 unless a
benchmark could not run at all. ``make bench`` stays under 10 minutes on 2 cores (the
warm osls run, minutes long and no faster than a cold one, is left to
``python -m bench.package_bench``); ``--quick`` under 2 minutes.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

from bench import package_bench
from bench.harness import RESULTS, WORK_ROOT, BenchError, machine
from bench.measure import say
from bench.report import save_section, secs

SECTIONS = ("scale", "runtime", "package")


def _package(quick: bool, work: Path, *, incumbents: bool) -> str:
    settings = package_bench.Settings(
        quick=quick,
        runs=1 if quick else 3,
        routes=30,
        incumbents=incumbents,
        keep=False,
        osls_warm=False,
        sam_plain=False,
        osls=not quick,
    )
    return package_bench.run(settings, work).markdown()


def _section(name: str, quick: bool, work: Path, *, incumbents: bool) -> str:
    work.mkdir(parents=True)
    if name == "package":
        return _package(quick, work, incumbents=incumbents)
    if name == "scale":
        from bench import scale_bench

        return scale_bench.run(quick, work, within_all=True)
    from bench import runtime_bench

    return runtime_bench.run(quick, work)


def _key(name: str, quick: bool, incumbents: bool) -> str:
    mode = "quick" if quick else "full"
    if name == "package":  # the packaging sections kept their first names
        return mode + ("" if incumbents else "-fastsplit")
    return f"{name}-{mode}"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="reduced runs (under 2 minutes)")
    parser.add_argument(
        "--skip-incumbents", action="store_true", help="no SAM or osls (no bench-tools needed)"
    )
    parser.add_argument(
        "--only", default=",".join(SECTIONS), help=f"comma-separated subset of {SECTIONS}"
    )
    parser.add_argument("--keep", action="store_true", help="keep the work folder (logs)")
    args = parser.parse_args(argv)
    names = [name.strip() for name in args.only.split(",") if name.strip()]
    unknown = sorted(set(names) - set(SECTIONS))
    if unknown:
        parser.error(f"unknown benchmark {', '.join(unknown)}; choose from {', '.join(SECTIONS)}")
    incumbents = not args.skip_incumbents
    WORK_ROOT.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix="all-", dir=WORK_ROOT))
    started, load = time.monotonic(), os.getloadavg()[0]
    say(f"fastsplit benchmarks ({'quick' if args.quick else 'full'}): {', '.join(names)}")
    timings = []
    failed = False
    for name in names:
        begun = time.monotonic()
        try:
            text = _section(name, args.quick, work / name, incumbents=incumbents)
        except BenchError as error:
            say(f"error in the {name} benchmark: {error}\n(work folder kept: {work})")
            failed = True
            continue
        timings.append(f"{name} {secs(time.monotonic() - begun)}")
        print(text, flush=True)
        save_section(RESULTS, _key(name, args.quick, incumbents), text)
    elapsed = time.monotonic() - started
    say(
        f"all benchmarks took {secs(elapsed)} ({'; '.join(timings)}); machine: {machine()}; "
        f"load average {load:.1f} at the start, {os.getloadavg()[0]:.1f} at the end; "
        f"saved to {RESULTS.relative_to(RESULTS.parent.parent)}"
    )
    if args.keep or failed:
        say(f"work folder kept: {work}")
    else:
        shutil.rmtree(work, ignore_errors=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
