"""The report's text around the table: the run's context, the targets of issue 4, notes."""

from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass
from importlib import metadata

from bench.harness import REPO_ROOT, machine
from bench.measure import DEPS_MIN_RUNS
from bench.report import DepsRow, Target, Timing, cpu_ratio_text, ratio_text, secs

COLD_FACTOR = 10  # "cold at least 10x faster than cold `sam build`"
MARGINAL_TOLERANCE = 1.5  # "does not grow": large/small marginal CPU per function within this
MARGINAL_NOISE = 0.005  # ... or within this many seconds of it


@dataclass(frozen=True)
class Context:
    quick: bool
    runs: int
    incumbents: bool
    example_functions: int
    big: str
    big_functions: int
    small: str
    small_functions: int
    contest: str
    """The app the incumbents ran on."""
    requirements: list[str]
    load_before: float
    elapsed: float
    osls_warm: bool = True
    osls: bool = True
    sam_plain: bool = True


def targets(
    context: Context,
    cold: Timing | None,
    warm: Timing | None,
    sam_cold: Timing | None,
    sam_warm: Timing | None,
    deps: list[DepsRow],
) -> list[Target]:
    result = []
    text = f"cold at least {COLD_FACTOR}x faster than a cold `sam build`"
    if cold is None or sam_cold is None:
        result.append(Target(text, None, "SAM not run (--skip-incumbents)"))
    elif context.quick:
        detail = f"quick mode ran SAM on {context.contest} only ({_versus(cold, sam_cold)}); "
        detail += "the target is about the 30-route app: `make bench`"
        result.append(Target(text, None, detail))
    else:
        met = sam_cold.seconds >= COLD_FACTOR * cold.seconds
        detail = f"{context.contest}, against {sam_cold.label}: {_versus(cold, sam_cold)}"
        result.append(Target(text, met, detail))
    text = "warm faster than SAM's warm build, while producing the zips"
    if warm is None or sam_warm is None:
        result.append(Target(text, None, "SAM not run (--skip-incumbents)"))
    else:
        met = warm.seconds < sam_warm.seconds
        result.append(Target(text, met, f"{context.contest}: {_versus(warm, sam_warm)}"))
    small, large = deps
    (small_wall, small_cpu), (large_wall, large_cpu) = small.marginal, large.marginal
    small_user, large_user = small.marginal_user, large.marginal_user
    (_, small_floor), (_, large_floor) = small.floor_marginal, large.floor_marginal
    met = large_user <= max(small_user * MARGINAL_TOLERANCE, small_user + MARGINAL_NOISE)
    result.append(
        Target(
            "per-function cost does not grow with the size of the shared dependencies",
            met,
            f"dependencies {large.unzipped_mb / small.unzipped_mb:.1f}x larger "
            f"({small.zip_mb:.1f} MB → {large.zip_mb:.1f} MB compressed, in every zip); "
            f"marginal CPU per function {secs(small_cpu)} → {secs(large_cpu)} "
            f"({_growth(small_cpu, large_cpu)}; wall {secs(small_wall)} → {secs(large_wall)}): "
            f"fastsplit's own work (user CPU) {secs(small_user)} → {secs(large_user)} "
            f"({_growth(small_user, large_user)}), the kernel's (system CPU: copying the "
            f"dependencies' bytes into each zip, allocating and freeing blocks) "
            f"{secs(small_cpu - small_user)} → {secs(large_cpu - large_user)}, next to "
            f"{secs(small_floor)} → {secs(large_floor)} for writing the zips' bytes alone in "
            f"the same run. Judged on fastsplit's own work: met when it grows by at most "
            f"{MARGINAL_TOLERANCE}x or {secs(MARGINAL_NOISE)} (a difference of totals is that "
            "noisy). Any tool that puts the dependencies into every zip writes their bytes "
            "once per function; `--layer` writes them once",
        )
    )
    return result


def _growth(small: float, large: float) -> str:
    return f"{large / small:.1f}x" if small > 0 and large > 0 else "within noise"


def _versus(ours: Timing, baseline: Timing) -> str:
    wall = ratio_text(ours.seconds, baseline.seconds)
    cpu = cpu_ratio_text(ours.cpu, baseline.cpu)
    return f"{wall}, CPU {cpu}: {secs(ours.seconds)} vs {secs(baseline.seconds)}"


def header(context: Context) -> list[str]:
    load_after = os.getloadavg()[0]
    cores = os.cpu_count() or 1
    busy = max(context.load_before, load_after) > cores
    return [
        f"- Date: {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}; the bench took "
        f"{context.elapsed:.0f} s.",
        f"- Machine: {machine()}.",
        f"- Load average (1 min): {context.load_before:.1f} at the start, {load_after:.1f} at "
        "the end"
        + (
            f" — busier than its {cores} cores: other work stretched the wall times (all "
            "tools alike); the CPU times are the steadier figures."
            if busy
            else "."
        ),
        f"- Apps: example_app ({context.example_functions} functions, docs and fallback "
        f"included); the generated shop API (bench/apps) as {context.big} "
        f"({context.big_functions} functions, one per route) and {context.small} "
        f"({context.small_functions}); the incumbents ran on {context.contest}.",
        f"- Requirements of the shop API: {', '.join(context.requirements)} (example_app: "
        f"its requirements.txt plus mangum). Versions: fastsplit {metadata.version('fastsplit')}"
        f", {_tool_versions(context)}.",
        f"- Runs: fastsplit and warm SAM figures are the median of {context.runs} (the "
        f"dependency-size table of at least {DEPS_MIN_RUNS}); cold SAM runs and osls are one "
        "run each. Wall time of each command as a whole (start-up included); CPU = user + "
        "system time of the command and all its child processes.",
        "- Offline: every command under `unshare --net` with only loopback up, pip served "
        "one local wheelhouse over HTTP on 127.0.0.1 (`PIP_NO_INDEX=1`, `PIP_FIND_LINKS`), "
        "HOME and caches in the work folder.",
    ]


def _tool_versions(context: Context) -> str:
    if not context.incumbents:
        return "incumbents not run"
    versions = []
    lock = json.loads((REPO_ROOT / "bench" / "package-lock.json").read_text(encoding="utf-8"))
    for name in ("osls", "serverless-python-requirements"):
        versions.append(f"{name} {lock['packages'][f'node_modules/{name}']['version']}")
    sam_pins = (REPO_ROOT / "tools" / "requirements-sam.txt").read_text(encoding="utf-8")
    for line in sam_pins.splitlines():
        if line.startswith("aws-sam-cli=="):
            versions.append(f"aws-sam-cli {line.split('==', 1)[1].strip()}")
    return ", ".join(versions)


def notes(context: Context) -> list[str]:
    result = [
        "fastsplit cold: `fastsplit package` with an empty --cache-dir and a new HOME: pip "
        "installs the set for the target platform, the dependencies are compressed once, "
        "every function's zip copies those bytes and appends its own code. Warm: the same "
        "command again on the filled cache (no pip run), replacing the previous dist/.",
        "SAM: each CodeUri folder has its own requirements.txt, so pip runs once per "
        "function; SAM writes folders, no zips. Cold: plain `sam build` (the issue's "
        "baseline, one function after the other; the cold target is judged against it) "
        "and `sam build --cached --parallel` (SAM's fastest cold build), each on a fresh "
        "copy of the build (no .aws-sam) with a new HOME; warm: the latter again.",
        "osls: `osls package` with serverless-python-requirements (`package: individually`, "
        "each function a `module` with its own requirements.txt, plugin defaults); cold "
        "with a new HOME, warm with the HOME the cold run filled (the plugin's static and "
        "download caches). It installs once (identical requirements share its cache), "
        "then injects and re-compresses the dependencies into every function's zip.",
        f"Marginal per function: (warm time of {context.big} - warm time of {context.small}) "
        f"/ {context.big_functions - context.small_functions} functions: the fixed cost of a "
        "run (start-up, reading the installed set) cancels out. The two apps' runs (and "
        "the floor's) take turns, and the marginal is the median over those rounds, so "
        "that the machine's drifting speed hits both sides of each difference. "
        "The shop API is built with "
        "`--mode full`, so every function carries the whole dependency set (a slim function "
        "would leave out what its route does not import, numpy and pandas here).",
        "Marginal CPU is split into user time (fastsplit's own work: reading the build, "
        "the zips' directories and hashes, the manifest) and system time (the kernel's: "
        "copying the compressed dependencies into each zip with `os.copy_file_range`, "
        "allocating the new files' blocks and freeing the previous dist/'s). Writing the "
        "zips' bytes alone (bench/write_floor.py): the same zips copied into a new folder "
        "the same way and the previous copy removed, run like fastsplit's warm run: what "
        "any tool that writes these zips pays. Every timed run starts after a `sync`.",
        "SAM's python_pip builder reads pip's `Processing <path>` lines (what pip prints for "
        "wheels from a local folder) as local source packages and runs one extra `pip "
        "wheel` per dependency per function; serving the wheelhouse over HTTP avoids that "
        "penalty, which no user of a real index pays (about 3x SAM's cold time here).",
    ]
    if context.quick:
        result.append(
            f"Quick mode: one run each; the incumbents ran on {context.contest}, without "
            "plain `sam build` and warm osls, and the large dependency set is numpy without "
            "pandas. `make bench` runs "
            "the full comparison on the 30-route app."
        )
    if not context.incumbents:
        result.append("--skip-incumbents: SAM and osls were not run.")
    elif not context.osls:
        result.append(
            "osls was not run (`make bench-quick` keeps to 2 minutes; it takes half a "
            "minute even for 5 functions): `make bench` runs it on the 30-route app."
        )
    if context.incumbents and not context.quick and not context.sam_plain:
        result.append(
            "Plain `sam build` was not run separately (`make bench` keeps to 10 minutes): "
            "the cold SAM build is `sam build --cached` on a fresh copy, which builds one "
            "function after the other like plain `sam build` while filling the cache that "
            "the warm `--cached --parallel` build reads (earlier full runs: plain 41.5 s, "
            "`--cached --parallel` 34.9 s cold for 30 functions). `python -m "
            "bench.package_bench` runs plain `sam build` and `--cached --parallel` cold too."
        )
    if context.incumbents and not context.quick and not context.osls_warm:
        result.append(
            "Warm osls was not run (`make bench` keeps to 10 minutes): with a filled plugin "
            "cache it still re-compresses the dependencies into every zip, so it takes as "
            "long as a cold run (earlier full runs: 290 s warm vs 238 s cold for 30 "
            "functions). `python -m bench.package_bench` runs it."
        )
    return result
