"""The scale benchmark's markdown: figures next to their same-run baselines, targets, notes."""

from __future__ import annotations

import os
import time
from importlib import metadata
from typing import TYPE_CHECKING

from bench.harness import machine
from bench.report import cpu_ratio_text, ratio_text, secs

if TYPE_CHECKING:
    from bench.scale_bench import Measured, Results

BUILD_LIMIT = 10.0  # "1,000 routes build in under 10 s on 2 cores"
GROWTH_LIMIT = 12.0  # 1,000-route time / 100-route time: linear, with a margin
LABELS = {
    "import": "app import alone",
    "routes": "`routes`",
    "build": "`build` (slim, default)",
    "build-full": "`build --mode full`",
}
COMMANDS = ("routes", "build", "build-full")


def markdown(results: Results, *, elapsed: float) -> str:
    mode = "quick" if results.quick else "full"
    lines = [f"## Scale benchmark (issue 7), {mode} mode", "", *_header(results, elapsed), ""]
    lines += [*_scale_table(results), "", *_growth_table(results), ""]
    lines += [*_package_table(results), "", "Targets (issue 7):", "", *_targets(results)]
    lines += ["", "Notes:", "", *(f"- {note}" for note in _notes(results))]
    return "\n".join(lines) + "\n"


def _header(results: Results, elapsed: float) -> list[str]:
    load_after = os.getloadavg()[0]
    cores = os.cpu_count() or 1
    busy = max(results.load_before, load_after) > cores
    load = f"- Load average (1 min): {results.load_before:.1f} at the start, {load_after:.1f} "
    load += "at the end"
    if busy:
        load += (
            f" — busier than its {cores} cores: other work stretched the wall times; the "
            "CPU times are the steadier figures."
        )
    runs = "1 run each" if results.quick else "median of up to 3 runs"
    return [
        f"- Date: {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}; the bench took "
        f"{elapsed:.0f} s. fastsplit {metadata.version('fastsplit')} (this checkout).",
        f"- Machine: {machine()}.",
        load + ("" if busy else "."),
        f"- Apps: the generated shop API (bench/apps, models split per resource) with "
        f"{', '.join(f'{n:,}' for n in results.sizes)} routes; builds with `--target "
        "lambda`, docs and fallback functions included (routes + 2 functions).",
        f"- Runs: {runs} (no further run once a measurement's runs took "
        f"{results.repeat_budget:.0f} s); a run longer than {results.timeout:.0f} s is stopped, "
        "and that command is skipped on the larger apps, as is a run whose linear "
        "extrapolation from the two smaller apps exceeds the limit (the estimate is "
        "shown, never counted as a measurement). Wall = start to exit of the "
        "command as a whole; CPU = user + system of it and all its child processes. "
        "Each run writes into a new folder (none is emptied just before a run; all are "
        "removed at the end).",
        "- Memory: *max RSS* is the peak resident set of the largest single process of "
        "the command's tree (exact, from `wait4`); *peak PSS* is the largest sum of "
        "proportional set sizes over the whole tree (the build's proof forks one child per "
        "function), sampled every 50 ms from /proc in one more run whose times are not "
        "counted (reading a process's memory map costs CPU and stalls its page faults: "
        "about a second of CPU on the 1,000-route build).",
    ]


def _scale_table(results: Results) -> list[str]:
    lines = [
        "| Routes | Command | Wall | CPU | Wall minus import | Per route: wall / minus import "
        "| Max RSS (one process) | Peak PSS (tree) | vs app import alone (same run) |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for n in results.sizes:
        base = results.scale["import", n]
        for key in ("import", *COMMANDS):
            item = results.scale[key, n]
            label = f"| {n:,} | {LABELS[key]} |"
            if not item.ok:
                lines.append(f"{label} {_missing(item)} | | | | | | |")
                continue
            figures = f" {_wall(item)} | {secs(item.cpu)} |"
            if key == "import":
                lines.append(
                    f"{label}{figures} — | {secs(item.wall / n)} / — | {_mib(item.max_rss)} | "
                    f"{_mib(item.peak_pss)} | baseline |"
                )
                continue
            own = item.wall - base.wall if base.ok else None
            own_text = secs(own) if own is not None else "—"
            per_own = secs(own / n) if own is not None else "—"
            versus = "—"
            if base.ok:
                versus = f"{item.wall / base.wall:.1f}x the import's wall, "
                versus += f"{item.cpu / base.cpu:.1f}x its CPU"
            lines.append(
                f"{label}{figures} {own_text} | {secs(item.wall / n)} / {per_own} | "
                f"{_mib(item.max_rss)} | {_mib(item.peak_pss)} | {versus} |"
            )
    return lines


def _growth_table(results: Results) -> list[str]:
    if len(results.sizes) < 2:
        return []
    small, large = sorted(results.sizes)[-2:]  # 100 → 1,000; quick within `make bench`: 10 → 100
    linear = large / small
    lines = [
        f"Growth from {small} to {large:,} routes (linear would be {linear:.0f}x; target ≤ "
        f"{GROWTH_LIMIT / 10 * linear:.0f}x):",
        "",
        f"| Command | {small} routes | {large:,} routes | {large:,} / {small} (wall) | "
        "CPU | Wall minus import | Marginal per added route (wall / CPU) |",
        "| --- | --- | --- | --- | --- | --- | --- |",
    ]
    for key in ("import", *COMMANDS):
        a, b = results.scale[key, small], results.scale[key, large]
        row = f"| {LABELS[key]} | {_short(a)} | {_short(b)} |"
        if not (a.ok and b.ok):
            bound = _lower_bound(a, b)
            row += f" {bound} | | | |" if bound else " — | | | |"
            lines.append(row)
            continue
        own = "—"
        ia, ib = results.scale["import", small], results.scale["import", large]
        if key != "import" and ia.ok and ib.ok and a.wall > ia.wall:
            own = f"{(b.wall - ib.wall) / (a.wall - ia.wall):.1f}x"
        added = large - small
        marginal = f"{secs((b.wall - a.wall) / added)} / {secs((b.cpu - a.cpu) / added)}"
        row += f" {b.wall / a.wall:.1f}x | {b.cpu / a.cpu:.1f}x | {own} | {marginal} |"
        lines.append(row)
    return lines


def _package_table(results: Results) -> list[str]:
    lines = [
        "`fastsplit package --target lambda`, offline (bench/harness.py), cold vs warm "
        "dependency cache:",
        "",
        "| App | Functions | Cold (empty cache, new HOME) | Warm (filled cache) | Warm vs cold "
        "| Warm per function |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    for app, functions, cold, warm in results.package:
        per = warm.per()
        versus = f"{ratio_text(warm.seconds, cold.seconds)} (CPU: "
        versus += f"{cpu_ratio_text(warm.cpu, cold.cpu)})"
        lines.append(
            f"| {app} | {functions} | {cold.describe()} | {warm.describe()} | {versus} | "
            f"{secs(per.seconds)} (CPU {secs(per.cpu)}) |"
        )
    if results.package_note:
        lines += ["", f"{results.package_note}."]
    return lines


def _targets(results: Results) -> list[str]:
    lines = []
    text = f"1,000 routes build in under {BUILD_LIMIT:.0f} s on 2 cores"
    if 1000 not in results.sizes:
        lines.append(f"- not measured: {text}")
    else:
        build, full = results.scale["build", 1000], results.scale["build-full", 1000]
        slim = f"not run: {build.skipped}" if build.skipped else _short(build)
        detail = f"default (slim) build: {slim}; `--mode full`: {_short(full)}"
        # A smaller app past the limit decides it too: 1,000 routes take longer.
        smaller = [results.scale["build", n] for n in results.sizes if n <= 1000]
        floor = max([item.stopped or (item.wall if item.ok else 0.0) for item in smaller])
        if build.ok:
            met: bool | None = build.wall < BUILD_LIMIT
        elif floor >= BUILD_LIMIT:
            met = False
        else:
            met = None
        lines.append(f"- {_mark(met)}: {text} — {detail}")
    if 100 in results.sizes and 1000 in results.sizes:
        for key in COMMANDS:
            a, b = results.scale[key, 100], results.scale[key, 1000]
            text = f"linear growth of {LABELS[key]}: 1,000-route / 100-route wall ≤ "
            text += f"{GROWTH_LIMIT:.0f}"
            if a.ok and b.ok:
                ratio = b.wall / a.wall
                lines.append(
                    f"- {_mark(ratio <= GROWTH_LIMIT)}: {text} — {ratio:.1f}x "
                    f"({_short(a)} → {_short(b)}; CPU {b.cpu / a.cpu:.1f}x)"
                )
                continue
            bound = _lower_bound(a, b)
            met = False if bound and b.stopped and b.stopped / a.wall > GROWTH_LIMIT else None
            detail = bound or f"{_short(a)} → {_short(b)}"
            lines.append(f"- {_mark(met)}: {text} — {detail}")
    return lines


def _notes(results: Results) -> list[str]:
    notes = [
        "Wall minus app import: the command's wall time minus the median wall time of `python "
        "-c 'import shopapi.main'` in a fresh interpreter (Python start-up, FastAPI and the "
        "app): what fastsplit adds to importing the app once. The slim build also imports "
        "each function's modules again in its proof (one forked child per function), which "
        "this subtraction does not remove.",
        "`--target lambda`: the Lambda build alone (the default `--target all` also writes "
        "the Vercel project).",
        "The shop API's models are one module per resource (`write_app(..., "
        "models_per_resource=True)`), as large apps split them.",
    ]
    if results.quick and results.sizes == (10, 100):
        notes.append(
            "Quick mode within `make bench-quick`: 10 and 100 routes (the growth table is "
            "10 → 100), one run each, no package section (the packaging section has "
            "example_app); `python -m bench.scale_bench` measures 1,000 routes too."
        )
    elif results.quick:
        notes.append(
            "Quick mode: 100 and 1,000 routes only (no 10-route app), one run each, runs "
            f"stopped at {results.timeout:.0f} s, and the package section on the 100-route "
            "app only (example_app: `make bench-quick`'s packaging section); `python -m "
            "bench.scale_bench` runs all of it."
        )
    return notes


def _missing(item: Measured) -> str:
    if item.stopped is not None:
        return f"stopped at {item.stopped:.0f} s"
    return f"failed ({item.failed})" if item.failed else f"skipped ({item.skipped})"


def _short(item: Measured) -> str:
    if item.ok:
        return f"{secs(item.wall)} (CPU {secs(item.cpu)})"
    if item.stopped is not None:
        return f"> {secs(item.stopped)} (stopped)"
    if item.expected is not None:
        return f"not run (≈ {secs(item.expected)} expected)"
    return "failed" if item.failed else "skipped"


def _lower_bound(a: Measured, b: Measured) -> str:
    if a.ok and b.stopped is not None:
        return f"> {b.stopped / a.wall:.1f}x (the 1,000-route run was stopped)"
    return ""


def _wall(item: Measured) -> str:
    walls = [run.wall for run in item.runs]
    if len(walls) == 1:
        return f"{secs(item.wall)} (1 run)"
    return f"{secs(item.wall)} ({len(walls)} runs: {secs(min(walls))} to {secs(max(walls))})"


def _mib(size: int) -> str:
    return f"{size / 2**20:.0f} MiB"


def _mark(met: bool | None) -> str:
    return {True: "**met**", False: "**not met**", None: "not measured"}[met]
