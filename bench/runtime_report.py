"""The runtime benchmark's markdown: every figure a median, next to its same-run baseline."""

from __future__ import annotations

import functools
import math
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from statistics import median

from bench.coldstart import ColdRun, LoopResult
from bench.harness import machine
from bench.runtime_artifacts import LOCAL, Size

MB = 1024 * 1024
LIGHT_VS_FLOOR = 1.2  # issue 6: the light route's cold start within 1.2x of the floor
LIGHT_VS_FULL = 3.0  # ... and at least 3x faster than the full-mode function
ZIP_VS_FULL = 5.0  # ... and its zip at least 5x smaller


@dataclass(frozen=True)
class Subject:
    """One packaged artifact, unzipped, and the request it is started with."""

    key: str
    label: str
    folder: Path
    event: Path
    env: dict[str, str]
    size: Size
    unzip_s: float
    """Seconds to unpack the zip (Lambda does it before the cold start, uncounted here)."""


@dataclass(frozen=True)
class Loop:
    label: str
    result: LoopResult


@dataclass(frozen=True)
class Results:
    quick: bool
    rounds: int
    iterations: int
    batches: int
    subjects: dict[str, Subject]
    cold: dict[str, list[ColdRun]]
    loops: list[Loop]
    sizes: dict[str, dict[str, Size]]
    """Per app: every function's zip."""
    lambdaliths: dict[str, Size]
    """Per app: the lambdalith's one zip."""
    layered: dict[str, tuple[dict[str, Size], Size | None]]
    """Per app, packaged with ``--layer``: every function's zip, and the layer's."""
    load_before: float
    load_after: float
    elapsed: float


@dataclass(frozen=True)
class Cold:
    """Medians of one subject's cold starts (seconds)."""

    import_first: float
    to_response: float
    low: float
    high: float
    modules: int
    tops: frozenset[str]

    @classmethod
    def of(cls, runs: Sequence[ColdRun]) -> Cold:
        values = [run.import_first_s for run in runs]
        return cls(
            median(values),
            median(run.to_response_s for run in runs),
            min(values),
            max(values),
            runs[0].modules,
            frozenset(runs[0].tops),
        )

    def describe(self, runs: int) -> str:
        return f"{ms(self.import_first)} ({ms(self.low)} to {ms(self.high)}, {runs} runs)"


def markdown(results: Results) -> str:
    cold = {key: Cold.of(runs) for key, runs in results.cold.items()}
    mode = "quick" if results.quick else "full"
    lines = [
        f"## Runtime benchmark, {mode} mode",
        "",
        f"Machine: {machine(LOCAL)}. Load average {results.load_before:.2f} before, "
        f"{results.load_after:.2f} after; {results.elapsed:.0f} s in all.{_busy(results)}",
        "",
        f"Cold start = a new `python -S -I -B` process whose `sys.path` is the unzipped "
        f"artifact and the standard library only, importing `handler` and calling "
        f"`handler.handler(event, context)` once with an HTTP API (payload 2.0) event made "
        f"from `sam local generate-event apigateway http-api-proxy`. The headline is "
        f"*import + first call*, timed inside the process (what differs between functions; "
        f"Lambda's own runtime start is the same for all); *start → response* adds the "
        f"interpreter's start-up (spawn to response). Median of {results.rounds} runs, the "
        f"artifacts taking turns round after round; each ratio is the median of the "
        f"round-by-round ratios (two artifacts of one round ran seconds apart). No bytecode "
        f"is written or shipped: Lambda's code folder is read-only and fastsplit's zips "
        f"carry no `.pyc`, so every cold start compiles every module it imports.",
        "",
    ]
    lines += _section_a(results, cold)
    lines += _section_cold(results, cold)
    lines += _section_loops(results)
    lines += _section_sizes(results)
    return "\n".join(lines) + "\n"


def _busy(results: Results) -> str:
    cores = os.cpu_count() or 1
    if max(results.load_before, results.load_after) < cores:
        return ""
    return (
        f" **The machine was busy** (load at or above its {cores} cores): wall times "
        "stretch and spread; the ratios of artifacts measured in turns hold better than "
        "the absolute figures, and a run on an idle machine gives steadier ones."
    )


def round_ratio(results: Results, key: str, base: str, *, start: bool = False) -> float:
    """``key``'s cold start over ``base``'s, round by round (they ran next to each other),
    then the median: a load drift during the run cancels out. ``start``: process start to
    response instead of import + first call."""

    def seconds(run: ColdRun) -> float:
        return run.to_response_s if start else run.import_first_s

    pairs = zip(results.cold[key], results.cold[base], strict=True)
    return median(seconds(ours) / seconds(theirs) for ours, theirs in pairs)


def _section_a(results: Results, cold: dict[str, Cold]) -> list[str]:
    subjects = results.subjects
    floor, light, full = (cold[k] for k in ("floor", "light", "full"))
    ratio = functools.partial(round_ratio, results)
    lines = [
        "### A. Slim functions (issue 6): heavylight (light routes + one pandas route)",
        "",
        "| Artifact | Zip | Unzipped | Zip vs floor | Import + first call | vs floor | "
        "Start → response | vs floor | Modules imported | Unzip (not counted) |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for key in ("floor", "light", "heavy", "full", "floor-pyc", "light-pyc", "full-pyc"):
        if key not in cold:
            continue
        subject, figures = subjects[key], cold[key]
        base = _base_of(key)  # with bytecode: against the floor with bytecode
        size_base = subjects["floor"].size
        lines.append(
            f"| {subject.label} | {mb(subject.size.zipped)} | {mb(subject.size.unzipped)} | "
            f"{times(subject.size.zipped, size_base.zipped)} | {figures.describe(results.rounds)} "
            f"| {ratio(key, base):.2f}x | {ms(figures.to_response)} | "
            f"{ratio(key, base, start=True):.2f}x | {figures.modules} | "
            f"{ms(subject.unzip_s)} |"
        )
    light_zip, full_zip = subjects["light"].size.zipped, subjects["full"].size.zipped
    targets = [
        _target(
            ratio("light", "floor") <= LIGHT_VS_FLOOR,
            f"light route cold start within {LIGHT_VS_FLOOR}x of the floor",
            f"{ratio('light', 'floor'):.2f}x the floor's (medians {ms(light.import_first)} vs "
            f"{ms(floor.import_first)}; start → response "
            f"{ratio('light', 'floor', start=True):.2f}x)",
        ),
        _target(
            ratio("full", "light") >= LIGHT_VS_FULL,
            f"light route cold start at least {LIGHT_VS_FULL:.0f}x faster than the full-mode "
            "function",
            f"{ratio('full', 'light'):.2f}x faster (medians {ms(light.import_first)} vs "
            f"{ms(full.import_first)}; start → response "
            f"{ratio('full', 'light', start=True):.2f}x)",
        ),
        _target(
            full_zip >= ZIP_VS_FULL * light_zip,
            f"light route zip at least {ZIP_VS_FULL:.0f}x smaller than the full-mode zip",
            f"{full_zip / light_zip:.1f}x smaller ({mb(light_zip)} vs {mb(full_zip)})",
        ),
    ]
    lines += ["", "Targets (issue 6):", "", *targets, "", "What the time goes to:", ""]
    lines += _dominates(results, cold)
    return [*lines, ""]


def _base_of(key: str) -> str:
    return "floor-pyc" if key.endswith("-pyc") else "floor"


def _dominates(results: Results, cold: dict[str, Cold]) -> list[str]:
    floor, light, full = (cold[k] for k in ("floor", "light", "full"))
    extra = sorted(t for t in full.tops - light.tops if not t.startswith("_"))
    ours = sorted(t for t in light.tops - floor.tops if not t.startswith("_"))
    notes = [
        f"- The light slim function imports {light.modules} modules, the floor {floor.modules} "
        f"(its own on top of the floor's: {', '.join(ours) or 'none'}); round by round it "
        f"takes {round_ratio(results, 'light', 'floor'):.2f}x the floor's time. Both spend "
        "most of their time "
        "compiling and running fastapi, pydantic and starlette, which every FastAPI function "
        "imports.",
        f"- The full-mode function imports {full.modules} modules; those the light one does "
        f"not are {', '.join(extra) or 'none'}: {ms(full.import_first - light.import_first)} "
        f"of its {ms(full.import_first)}. The ratio to the light function is therefore set "
        "by how slow the heavy library's import is against FastAPI's own.",
    ]
    unzip = {key: s.unzip_s for key, s in results.subjects.items()}
    with_unzip = (full.import_first + unzip["full"]) / (light.import_first + unzip["light"])
    notes.append(
        f"- Lambda unpacks a function's zip before its cold start, and a larger zip takes "
        f"longer (here {ms(unzip['light'])} for the light function, {ms(unzip['full'])} for "
        f"the full-mode one, with a warm page cache and no download). The targets above "
        f"leave that out; counted in, the light function is {with_unzip:.2f}x faster than "
        f"the full-mode one."
    )
    if "light-pyc" in cold and "full-pyc" in cold:
        lp, fp, flp = cold["light-pyc"], cold["full-pyc"], cold["floor-pyc"]
        notes.append(
            f"- With bytecode compiled in (not what fastsplit ships): light {ms(lp.import_first)}"
            f" ({round_ratio(results, 'light-pyc', 'light'):.2f}x its time without), floor "
            f"{ms(flp.import_first)}, full mode {ms(fp.import_first)}; the light function is "
            f"{round_ratio(results, 'full-pyc', 'light-pyc'):.2f}x faster than the full-mode "
            "one."
        )
    return notes


def _section_cold(results: Results, cold: dict[str, Cold]) -> list[str]:
    lines = [
        "### B3. Cold start per function vs a plain `Mangum(app)` lambdalith and the floor",
        "",
        "| Artifact | Zip | Import + first call | vs lambdalith | vs floor | Start → response "
        "| Modules imported |",
        "| --- | --- | --- | --- | --- | --- | --- |",
    ]
    groups = [("ex-items", "ex-lith"), ("ex-health", "ex-lith"), ("ex-lith", "ex-lith"),
              ("shop-list", "shop-lith"), ("shop-lith", "shop-lith")]  # fmt: skip
    floor = cold["floor"]
    for key, lith_key in groups:
        if key not in cold:
            continue
        subject, figures = results.subjects[key], cold[key]
        lines.append(
            f"| {subject.label} | {mb(subject.size.zipped)} | {figures.describe(results.rounds)} "
            f"| {speed(round_ratio(results, key, lith_key))} | "
            f"{round_ratio(results, key, 'floor'):.2f}x | {ms(figures.to_response)} | "
            f"{figures.modules} |"
        )
    lines.append(
        f"| {results.subjects['floor'].label} | {mb(results.subjects['floor'].size.zipped)} | "
        f"{floor.describe(results.rounds)} | | 1.00x | {ms(floor.to_response)} | "
        f"{floor.modules} |"
    )
    return [*lines, ""]


def _section_loops(results: Results) -> list[str]:
    lines = [
        "### B4. Invocation overhead (warm, one process, same event)",
        "",
        f"Microseconds per request, wall (CPU time of the process in brackets), median of "
        f"{results.batches} batches of {results.iterations} requests; within a batch the "
        "variants take turns every 10 requests (in reverse order every other turn), so the "
        "batches compared ran through the same moments of the machine's load. *Generated "
        "handler*: the function's `handler.handler` "
        "(fastsplit's LambdaFunction). *Mangum(app)*: plain Mangum on the same app with its "
        'default `lifespan="auto"`, which runs the app\'s startup and shutdown around every '
        'request. *lifespan off*: `Mangum(app, lifespan="off")`, the adapter alone (it '
        "cannot serve an app that reads its lifespan state). *ASGI direct*: the app called "
        "with a ready scope and the lifespan state, no event or response translation. "
        "A second instance of the strictest plain Mangum that serves the app is timed as "
        "well (not shown in the table): the adapter against itself (A/A), the precision of "
        "the comparison in this run. Each target gives the median per-batch ratio and its "
        "distribution-free 95% confidence interval; met when the handler is not measurably "
        "slower (the interval reaches 1.0 or below), not measured when the A/A interval "
        "misses 1.0.",
        "",
        "| Route | Generated handler | Mangum(app) | Mangum, lifespan off | ASGI direct | "
        "Handler vs Mangum(app) | vs lifespan off | vs ASGI direct |",
        "| --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    targets = []
    for loop in results.loops:
        line, target = _loop_row(loop)
        lines.append(line)
        targets.append(target)
    return [*lines, "", "Target (issue 7):", "", *targets, ""]


def _loop_row(loop: Loop) -> tuple[str, str]:
    """The table row of one route and its target line (judged on wall time).

    Ratios are paired: each batch of the handler against the other variant's batch of
    the same round (run next to it), then the median, so load drifts cancel out.
    """
    result = loop.result
    wall = {name: median(values) for name, values in result.wall.items()}
    cpu = {name: median(values) for name, values in result.cpu.items()}

    def cell(name: str) -> str:
        if name in wall:
            return f"{wall[name]:.0f} µs ({cpu[name]:.0f})"
        return f"fails ({result.failing.get(name, 'not run')})"

    def ratio(name: str) -> str:
        if name not in wall:
            return "—"
        ours, theirs = paired(result.wall, name), paired(result.cpu, name)
        return f"{percent(median(ours))} ({percent(median(theirs))})"

    line = (
        f"| {loop.label} | {cell('handler')} | {cell('mangum')} | {cell('mangum-off')} | "
        f"{cell('asgi')} | {ratio('mangum')} | {ratio('mangum-off')} | {ratio('asgi')} |"
    )
    # The strictest plain Mangum that serves this app correctly.
    strict = "mangum-off" if "mangum-off" in wall else "mangum"
    what = "lifespan off" if strict == "mangum-off" else "default lifespan"
    ratios = paired(result.wall, strict)
    low, high = median_interval(ratios)
    detail = (
        f"{ratio(strict)} per request, CPU in brackets; medians {wall['handler']:.0f} µs vs "
        f"{wall[strict]:.0f} µs; 95% interval of the median per-batch ratio {percent(low)} to "
        f"{percent(high)}"
    )
    text = f"{loop.label}: generated handler no slower than plain Mangum ({what})"
    twin = result.wall.get("again") if result.again_of == strict else None
    if twin is None:
        return line, _target(median(ratios) <= 1.0, text, detail)
    # The adapter against a second instance of itself: how finely the batches tell two
    # equal variants apart, and a check that the method favours neither.
    same = [again / theirs for again, theirs in zip(twin, result.wall[strict], strict=True)]
    same_low, same_high = median_interval(same)
    detail += (
        f"; the adapter against itself (A/A): {percent(median(same))}, 95% interval "
        f"{percent(same_low)} to {percent(same_high)}"
    )
    if not same_low <= 1 <= same_high:
        return line, _target(None, text, detail + ": the method is biased in this run")
    if low > 1:
        return line, _target(False, text, detail + ": measurably slower")
    verdict = "faster" if high < 1 else "not measurably slower"
    return line, _target(True, text, f"{detail}: {verdict}")


def paired(batches: dict[str, list[float]], other: str) -> list[float]:
    """The handler's time over ``other``'s, batch by batch."""
    return [ours / theirs for ours, theirs in zip(batches["handler"], batches[other], strict=True)]


def median_interval(values: list[float], confidence: float = 0.95) -> tuple[float, float]:
    """A distribution-free confidence interval of the median of ``values``: the k-th
    smallest and k-th largest, for the largest k whose binomial coverage (each value
    below the true median with probability 1/2) is at least ``confidence``."""
    ordered, n = sorted(values), len(values)
    k = 0  # how many values each end leaves out
    for candidate in range(1, (n + 1) // 2):
        below = sum(math.comb(n, i) for i in range(candidate + 1)) / 2**n
        if 1 - 2 * below < confidence:
            break
        k = candidate
    return ordered[k], ordered[n - 1 - k]


def percent(ratio: float) -> str:
    """``+4.1%`` / ``-12.0%``: a ratio as a difference."""
    return f"{(ratio - 1) * 100:+.1f}%"


def _section_sizes(results: Results) -> list[str]:
    lines = [
        "### B5. Artifact sizes: one zip per function vs the lambdalith's one zip",
        "",
        "The lambdalith: `pip install --target` of the same wheels, the app's package and "
        "a `Mangum(app)` handler, zipped at fastsplit's compression level (no `.pyc` in "
        "either).",
        "",
        "| App | Function | Zip | Unzipped | Zip vs lambdalith |",
        "| --- | --- | --- | --- | --- |",
    ]
    for app, functions in results.sizes.items():
        lith = results.lambdaliths[app]
        for name, size in sorted(functions.items()):
            lines.append(
                f"| {app} | {name} | {mb(size.zipped)} | {mb(size.unzipped)} | "
                f"{size_ratio(size.zipped, lith.zipped)} |"
            )
        total = sum(size.zipped for size in functions.values())
        unzipped = sum(size.unzipped for size in functions.values())
        lines.append(
            f"| {app} | **all {len(functions)} functions** | {mb(total)} | {mb(unzipped)} | "
            f"{size_ratio(total, lith.zipped)} |"
        )
        lines.append(
            f"| {app} | lambdalith (one zip) | {mb(lith.zipped)} | {mb(lith.unzipped)} | 1.00x |"
        )
        if app in results.layered:
            lines += _layered_rows(app, *results.layered[app], lith)
    return [*lines, ""]


def _layered_rows(
    app: str, functions: dict[str, Size], layer: Size | None, lith: Size
) -> list[str]:
    """``fastsplit package --layer``: small function zips and one layer of dependencies."""
    zipped = sorted(size.zipped for size in functions.values())
    total = sum(zipped) + (layer.zipped if layer else 0)
    rows = [
        f"| {app} | with `--layer`: each function's zip | {kb(zipped[0])} to {kb(zipped[-1])} "
        f"| | {size_ratio(zipped[-1], lith.zipped)} (the largest) |"
    ]
    if layer is not None:
        rows.append(
            f"| {app} | with `--layer`: the dependencies' layer (once) | {mb(layer.zipped)} | "
            f"{mb(layer.unzipped)} | {size_ratio(layer.zipped, lith.zipped)} |"
        )
    rows.append(
        f"| {app} | with `--layer`: **all {len(zipped)} functions + layer** | {mb(total)} | | "
        f"{size_ratio(total, lith.zipped)} |"
    )
    return rows


def _target(met: bool | None, text: str, detail: str) -> str:
    mark = {True: "**met**", False: "**not met**", None: "not measured"}[met]
    return f"- {mark}: {text} — {detail}"


def ms(seconds: float) -> str:
    return f"{seconds * 1000:.0f} ms"


def kb(size: int) -> str:
    return f"{size / 1024:.0f} KB"


def mb(size: int) -> str:
    return f"{size / MB:.2f} MB" if size < 10 * MB else f"{size / MB:.1f} MB"


def size_ratio(value: float, base: float) -> str:
    """``1.07x``, or ``213x smaller`` for a small fraction."""
    if value <= 0 or base <= 0:
        return "n/a"
    return f"{value / base:.2f}x" if value >= base / 10 else f"{base / value:.0f}x smaller"


def times(value: float, base: float) -> str:
    """``1.04x`` of the baseline (sizes and times alike)."""
    return f"{value / base:.2f}x" if base > 0 else "n/a"


def speed(ratio: float) -> str:
    """``2.1x faster`` / ``1.3x slower``: a time over its baseline's, in words."""
    if ratio == 1:
        return "1.00x"
    return f"{1 / ratio:.2f}x faster" if ratio < 1 else f"{ratio:.2f}x slower"
