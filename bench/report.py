"""The benchmark's results as markdown: every figure next to its baseline from the same run.

Each figure is a wall time (what a user waits) with the CPU time of the same runs: on a
machine that other work shares, wall times stretch with the load while CPU times stay
close to the work done, so both ratios are shown.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from statistics import median


@dataclass(frozen=True)
class Timing:
    """A measured wall time: the median of ``runs`` (all kept), and the median CPU time."""

    label: str
    seconds: float
    cpu: float
    runs: tuple[float, ...]
    functions: int
    user: float = 0.0
    """The median user CPU time (``cpu`` less the kernel's work)."""
    cpus: tuple[float, ...] = ()
    """CPU time of each run, in the order of ``runs``."""
    users: tuple[float, ...] = ()
    """User CPU time of each run, in the order of ``runs``."""

    def per(self) -> Timing:
        """The same figures per function."""
        n = self.functions
        runs = tuple(run / n for run in self.runs)
        label = f"{self.label}, per function"
        return Timing(label, self.seconds / n, self.cpu / n, runs, 1, self.user / n)

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
        return _marginal(self.warm, self.warm_small, "seconds"), self.marginal_cpu

    @property
    def marginal_cpu(self) -> float:
        return _marginal(self.warm, self.warm_small, "cpu")

    @property
    def floor_marginal(self) -> tuple[float, float]:
        """The same for writing the zips' bytes alone: the part no packager avoids."""
        return (
            _marginal(self.floor, self.floor_small, "seconds"),
            _marginal(self.floor, self.floor_small, "cpu"),
        )

    @property
    def marginal_user(self) -> float:
        """User CPU seconds per added function: fastsplit's own work, without the
        kernel's writing of the bytes (system time, which the floor measures)."""
        return _marginal(self.warm, self.warm_small, "user")


_PER_RUN = {"seconds": "runs", "cpu": "cpus", "user": "users"}


def _marginal(big: Timing, small: Timing, what: str) -> float:
    """Seconds of ``what`` per added function. Runs made in pairs (the big app's run next
    to the small one's, as the bench takes them): the median of the pairs' differences,
    so that a drift of the machine's speed between runs hits both sides of a pair."""
    added = big.functions - small.functions
    ours: tuple[float, ...] = getattr(big, _PER_RUN[what])
    theirs: tuple[float, ...] = getattr(small, _PER_RUN[what])
    if len(ours) > 1 and len(ours) == len(theirs):
        return median(a - b for a, b in zip(ours, theirs, strict=True)) / added
    total: float = getattr(big, what) - getattr(small, what)
    return total / added


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
            "(wall / CPU) | Marginal per function: wall / CPU (user + system) | Writing the "
            "zips' bytes alone, marginal per function: wall / CPU |",
            "| --- | --- | --- | --- | --- | --- | --- |",
        ]
        for dep in self.deps:
            per = dep.warm.per()
            wall, cpu = dep.marginal
            user = dep.marginal_user
            floor_wall, floor_cpu = dep.floor_marginal
            lines.append(
                f"| {dep.name}: {dep.requirements} | {dep.unzipped_mb:.0f} MB | "
                f"{dep.zip_mb:.1f} MB | {dep.warm.describe()}, {dep.warm.functions} functions "
                f"| {secs(per.seconds)} / {secs(per.cpu)} | {secs(wall)} / {secs(cpu)} "
                f"({secs(user)} + {secs(cpu - user)}; {dep.warm_small.functions} → "
                f"{dep.warm.functions} functions) | {secs(floor_wall)} / {secs(floor_cpu)} "
                f"(all functions: {dep.floor.describe()}) |"
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
