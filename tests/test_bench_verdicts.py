"""The benchmarks' verdicts follow the rules their reports state (no timing here)."""

from __future__ import annotations

import statistics

import pytest

from bench.coldstart import LoopResult
from bench.report import DepsRow, Timing
from bench.runtime_report import Loop, _loop_row, median_interval
from bench.summary import Context, targets


def test_median_interval_is_the_binomial_order_statistics() -> None:
    # 12 values: the 3rd smallest to the 3rd largest (coverage 96.1%); 8: min to max.
    assert median_interval([float(v) for v in range(12)]) == (2.0, 9.0)
    assert median_interval([float(v) for v in range(8)]) == (0.0, 7.0)
    assert median_interval([float(v) for v in range(20)]) == (5.0, 14.0)
    assert median_interval([3.0]) == (3.0, 3.0)


def _loop(handler: list[float], adapter: list[float], twin: list[float]) -> str:
    wall = {"handler": handler, "mangum": [2.0] * len(handler), "mangum-off": adapter}
    wall["again"] = twin
    result = LoopResult(wall, wall, {}, again_of="mangum-off")
    return _loop_row(Loop("app GET /", result))[1]


ADAPTER = [100.0] * 12
TWIN = [100.0 + delta for delta in (-3, -2, -2, -1, -1, 0, 0, 1, 1, 2, 2, 3)]


def test_handler_within_the_noise_is_not_measurably_slower() -> None:
    handler = [100.0 + delta for delta in (-2, -1, -1, 0, 0, 1, 1, 1, 2, 2, 3, 4)]
    line = _loop(handler, ADAPTER, TWIN)
    assert line.startswith("- **met**") and "not measurably slower" in line


def test_handler_slower_in_most_batches_is_not_met() -> None:
    handler = [100.0 + delta for delta in (-1, 2, 3, 3, 4, 4, 5, 5, 6, 6, 7, 9)]
    line = _loop(handler, ADAPTER, TWIN)
    assert line.startswith("- **not met**") and "measurably slower" in line


def test_a_biased_run_measures_nothing() -> None:
    # The adapter's twin came out slower in nearly every batch: the method favours one.
    twin = [100.0 + delta for delta in (-1, 2, 3, 3, 4, 4, 5, 5, 6, 6, 7, 9)]
    line = _loop([100.0] * 12, ADAPTER, twin)
    assert line.startswith("- not measured") and "biased" in line


def _timing(cpu: float, user: float, functions: int) -> Timing:
    return Timing("t", cpu, cpu, (cpu,), functions, user)


def _deps(big: tuple[float, float], small: tuple[float, float]) -> DepsRow:
    """A dependency set's warm runs: (CPU, user CPU) on 30 and on 5 functions."""
    floor = _timing(0.1, 0.05, 30), _timing(0.05, 0.05, 5)
    return DepsRow("set", "x", 10.0, 3.0, _timing(*big, 30), _timing(*small, 5), *floor)


def _per_function_target(small: DepsRow, large: DepsRow) -> str:
    context = Context(
        quick=False, runs=3, incumbents=False, example_functions=20, big="big",
        big_functions=30, small="small", small_functions=5, contest="big",
        requirements=[], load_before=0.0, elapsed=1.0,
    )  # fmt: skip
    found = targets(context, None, None, None, None, [small, large])[-1]
    assert found.text.startswith("per-function cost")
    return f"{found.met} {found.detail}"


@pytest.mark.parametrize(
    ("large", "met"),
    [
        # 10 ms more per function, all of it the kernel's (system time: copying the larger
        # dependencies into each zip); fastsplit's own work stays 6 ms per function.
        (_deps((0.700, 0.400), (0.275, 0.250)), True),
        # The same total, but fastsplit's own work grew from 6 to 14 ms per function.
        (_deps((0.700, 0.600), (0.275, 0.250)), False),
    ],
)
def test_per_function_cost_is_judged_on_fastsplits_own_work(large: DepsRow, met: bool) -> None:
    small = _deps((0.450, 0.400), (0.275, 0.250))  # 7 ms marginal, 6 ms of it user CPU
    detail = _per_function_target(small, large)
    assert detail.startswith(str(met))
    assert "marginal CPU per function 7 ms → 17 ms" in detail


def test_marginal_cost_pairs_runs_taken_in_turns() -> None:
    # Three rounds; the machine was slower in the second: the pairs' differences
    # (0.5, 0.1, 1.0 s) have the median 0.5 s, where the medians' difference is 0.1 s.
    def timing(cpus: tuple[float, ...], functions: int) -> Timing:
        middle = statistics.median(cpus)
        return Timing("t", middle, middle, cpus, functions, middle, cpus, cpus)

    big, small = timing((1.0, 3.0, 3.0), 30), timing((0.5, 2.9, 2.0), 5)
    row = DepsRow("set", "x", 10.0, 3.0, big, small, big, small)
    assert row.marginal_cpu == pytest.approx(0.5 / 25)
    assert row.marginal_user == pytest.approx(0.5 / 25)
    unpaired = DepsRow("set", "x", 10.0, 3.0, timing((3.0,), 30), timing((2.9,), 5), big, small)
    assert unpaired.marginal_cpu == pytest.approx(0.1 / 25)
