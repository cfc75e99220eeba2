"""The benchmark's results as markdown: every figure next to its baseline from the same run.

Each figure is a wall time (what a user waits) with the CPU time of the same runs: on a
machine that other work shares, wall times stretch with the load while CPU times stay
close to the work done, so both ratios are shown.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path


@dataclass(frozen=True)
class Timing:
    """A measured wall time: the median of ``runs`` (all kept), and the median CPU time."""

    label: str
    seconds: float
    cpu: float
    runs: tuple[float, ...]
    functions: int

    def per(self) -> Timing:
        """The same figures per function."""
        n = self.functions
        runs = tuple(run / n for run in self.runs)
        return Timing(f"{self.label}, per function", self.seconds / n, self.cpu / n, runs, 1)

    def describe(self) -> str:
        text = f"{secs(self.seconds)} (CPU {secs(self.cpu)}"
        if len(self.runs) > 1:
            low, high = min(self.runs), max(self.runs)
            return f"{text}; median of {len(self.runs)}: {secs(low)} to {secs(high)})"
        return f"{text}; 1 run)"


@dataclass(frozen=True)
class Comparison:
    """One row: a fastsplit figure and the baseline it is read against."""

    app: str
    what: str
    ours: Timing | None
    baseline: Timing | None
    note: str = ""
    """Shown instead of the ratio when one side was not run."""


@dataclass(frozen=True)
class DepsRow:
    """fastsplit warm with one dependency set, on the big app and on the small one."""

    name: str
    requirements: str
    unzipped_mb: float
    zip_mb: float
    warm: Timing
    warm_small: Timing
    floor: Timing
    """The big app's zips written again by bench/write_floor.py (their bytes alone)."""
    floor_small: Timing

    @property
    def marginal(self) -> tuple[float, float]:
        """(wall, CPU) seconds per added function: the fixed cost of a run cancels out."""
        return _marginal(self.warm, self.warm_small)

    @property
    def floor_marginal(self) -> tuple[float, float]:
        """The same for writing the zips' bytes alone: the part no packager avoids."""
        return _marginal(self.floor, self.floor_small)

    @property
    def above_floor(self) -> tuple[float, float]:
        """(wall, CPU) per added function that fastsplit spends above writing the bytes."""
        (wall, cpu), (floor_wall, floor_cpu) = self.marginal, self.floor_marginal
        return wall - floor_wall, cpu - floor_cpu


def _marginal(big: Timing, small: Timing) -> tuple[float, float]:
    added = big.functions - small.functions
    return (big.seconds - small.seconds) / added, (big.cpu - small.cpu) / added


@dataclass(frozen=True)
class Target:
    text: str
    met: bool | None
    """None: not measured in this run."""
    detail: str


@dataclass
class Report:
    title: str
    header: list[str] = field(default_factory=list)
    rows: list[Comparison] = field(default_factory=list)
    deps: list[DepsRow] = field(default_factory=list)
    targets: list[Target] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def markdown(self) -> str:
        lines = [f"## {self.title}", "", *self.header, ""]
        lines += [
            "| App | Measurement | fastsplit | Baseline (same run) | fastsplit vs baseline |",
            "| --- | --- | --- | --- | --- |",
        ]
        for row in self.rows:
            ours = f"{row.ours.label}: {row.ours.describe()}" if row.ours else "not run"
            base = f"{row.baseline.label}: {row.baseline.describe()}" if row.baseline else "—"
            if row.ours and row.baseline:
                ratio = f"{ratio_text(row.ours.seconds, row.baseline.seconds)} (CPU: "
                ratio += f"{cpu_ratio_text(row.ours.cpu, row.baseline.cpu)})"
            else:
                ratio = row.note
            lines.append(f"| {row.app} | {row.what} | {ours} | {base} | {ratio} |")
        if self.deps:
            lines += self._deps_table()
        lines += ["", "Targets (issue 4):", ""]
        for target in self.targets:
            mark = {True: "**met**", False: "**not met**", None: "not measured"}[target.met]
            lines.append(f"- {mark}: {target.text} — {target.detail}")
        if self.notes:
            lines += ["", "Notes:", ""]
            lines += [f"- {note}" for note in self.notes]
        return "\n".join(lines) + "\n"

    def _deps_table(self) -> list[str]:
        lines = [
            "",
            "Cost per function against the size of the shared dependencies (fastsplit, warm):",
            "",
            "| Dependency set | Installed | Deps zip | Warm, all functions | Per function "
            "(wall / CPU) | Marginal per function (wall / CPU) | Writing the zips' bytes "
            "alone, marginal per function (wall / CPU) | fastsplit above writing the bytes, "
            "marginal per function (wall / CPU) |",
            "| --- | --- | --- | --- | --- | --- | --- | --- |",
        ]
        for dep in self.deps:
            per = dep.warm.per()
            wall, cpu = dep.marginal
            floor_wall, floor_cpu = dep.floor_marginal
            above_wall, above_cpu = dep.above_floor
            lines.append(
                f"| {dep.name}: {dep.requirements} | {dep.unzipped_mb:.0f} MB | "
                f"{dep.zip_mb:.1f} MB | {dep.warm.describe()}, {dep.warm.functions} functions "
                f"| {secs(per.seconds)} / {secs(per.cpu)} | {secs(wall)} / {secs(cpu)} "
                f"({dep.warm_small.functions} → {dep.warm.functions} functions) | "
                f"{secs(floor_wall)} / {secs(floor_cpu)} (all functions: "
                f"{dep.floor.describe()}) | {secs(above_wall)} / {secs(above_cpu)} |"
            )
        return lines


def save_section(path: Path, key: str, text: str) -> None:
    """Replace the section marked ``key`` in ``path`` (or append it), keeping the rest."""
    start, end = f"<!-- package-bench:{key}:start -->", f"<!-- package-bench:{key}:end -->"
    block = f"{start}\n{text.rstrip()}\n{end}\n"
    old = path.read_text(encoding="utf-8") if path.is_file() else _PREAMBLE
    pattern = re.compile(re.escape(start) + ".*?" + re.escape(end) + "\n?", re.DOTALL)
    if pattern.search(old):
        new = pattern.sub(lambda _: block, old)
    else:
        new = old.rstrip() + "\n\n" + block
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(new, encoding="utf-8")
    tmp.replace(path)


_PREAMBLE = """# fastsplit benchmark results

Written by `make bench` / `make bench-quick` (`python -m bench`, see bench/README.md). Each
run replaces its own sections (full or quick); older numbers live in git history.
"""


def ratio_text(ours: float, baseline: float) -> str:
    """``12x faster`` / ``1.8x slower`` for wall times."""
    if ours <= 0 or baseline <= 0:
        return "n/a"
    factor = baseline / ours
    if factor >= 1:
        return f"{factor:.1f}x faster" if factor < 10 else f"{factor:.0f}x faster"
    return f"{1 / factor:.1f}x slower"


def cpu_ratio_text(ours: float, baseline: float) -> str:
    """``9.5x less`` / ``1.2x more`` for CPU times."""
    if ours <= 0 or baseline <= 0:
        return "n/a"
    factor = baseline / ours
    if factor >= 1:
        return f"{factor:.1f}x less" if factor < 10 else f"{factor:.0f}x less"
    return f"{1 / factor:.1f}x more"


def secs(value: float) -> str:
    if abs(value) < 1:
        return f"{value * 1000:.0f} ms"
    return f"{value:.1f} s" if abs(value) >= 10 else f"{value:.2f} s"
