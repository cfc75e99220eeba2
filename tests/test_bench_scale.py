"""The scale benchmark's own pieces: the generated apps have the routes asked for, and
the process-tree runner sees a forked child's memory and stops what runs too long."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from bench.apps import GeneratedApp, write_app
from bench.scale_bench import _Runner
from bench.treerun import run_tree

REPO = Path(__file__).resolve().parent.parent


@pytest.mark.parametrize("per_resource", [False, True])
def test_generated_app_has_the_requested_routes(tmp_path: Path, per_resource: bool) -> None:
    app = write_app(tmp_path, routes=13, models_per_resource=per_resource)
    env = dict(os.environ, PYTHONPATH=str(REPO))
    result = subprocess.run(
        [sys.executable, "-m", "fastsplit", "routes", app.app_ref, "--app-dir", app.app_dir,
         "--mode", "full", "--json", "--no-docs", "--no-fallback"],
        cwd=tmp_path, env=env, capture_output=True, text=True, check=True,
    )  # fmt: skip
    functions = json.loads(result.stdout)["functions"]
    routes = [route for function in functions for route in function["routes"]]
    assert len(routes) == 13
    assert len({route["endpoint"] for route in routes}) == 13


def test_tree_run_measures_children_and_stops_at_the_limit(tmp_path: Path) -> None:
    # The parent holds little; a forked child touches 150 MB: max RSS must see the child.
    child = (
        "import os, time\n"
        "pid = os.fork()\n"
        "if pid == 0:\n"
        "    data = b'x' * 150_000_000; time.sleep(0.3); os._exit(0)\n"
        "os.waitpid(pid, 0)\n"
    )
    env = dict(os.environ)
    run = run_tree(
        [sys.executable, "-c", child], cwd=tmp_path, env=env, log=tmp_path / "a.log", timeout=30
    )
    assert run.returncode == 0 and not run.stopped
    assert run.max_rss > 150_000_000
    assert run.peak_pss > 100_000_000  # sampled every 50 ms while the child sleeps
    slow = run_tree(
        [sys.executable, "-c", "import time; time.sleep(30)"],
        cwd=tmp_path, env=env, log=tmp_path / "b.log", timeout=0.5,
    )  # fmt: skip
    assert slow.stopped and slow.wall < 10


def test_tree_run_without_sampling_has_no_pss_but_the_exact_max_rss(tmp_path: Path) -> None:
    child = "data = b'x' * 150_000_000"
    run = run_tree(
        [sys.executable, "-c", child], cwd=tmp_path, env=dict(os.environ),
        log=tmp_path / "a.log", timeout=30, sample=False,
    )  # fmt: skip
    assert run.returncode == 0
    assert run.peak_pss == 0
    assert run.max_rss > 150_000_000


def test_runner_times_unsampled_runs_in_new_folders_then_samples_memory_once(
    tmp_path: Path,
) -> None:
    """Each run writes into a folder of its own (none is emptied before a run), the
    timed runs do not sample memory, one more run does, and the last finished run's
    folder is what later sections read."""
    runner = _Runner(tmp_path, 30, runs=2)
    app = GeneratedApp(app_dir=tmp_path, app_ref="app:app", routes=7)
    outs: list[Path] = []

    def command(out: Path) -> list[object]:
        outs.append(out)
        # Alive long enough for the sampler (every 50 ms) to see it.
        code = (
            f"import pathlib, time; pathlib.Path({str(out)!r}).mkdir(parents=True); time.sleep(0.3)"
        )
        return [sys.executable, "-c", code]

    measured = runner.measure("build", app, command)
    assert measured.ok and len(measured.runs) == 2
    assert [run.peak_pss for run in measured.runs] == [0, 0]
    assert measured.memory is not None and measured.memory.peak_pss > 0
    assert measured.peak_pss == measured.memory.peak_pss
    assert len(set(outs)) == 3 and all(out.is_dir() for out in outs)
    assert runner.out("build", 7) == outs[-1]


def test_runner_reports_a_failed_run_without_sampling_memory(tmp_path: Path) -> None:
    runner = _Runner(tmp_path, 30, runs=3)
    app = GeneratedApp(app_dir=tmp_path, app_ref="app:app", routes=7)
    calls: list[Path] = []

    def command(out: Path) -> list[object]:
        calls.append(out)
        return [sys.executable, "-c", "raise SystemExit('no such app')"]

    measured = runner.measure("build", app, command)
    assert not measured.ok and measured.failed == "exit 1: no such app"
    assert len(calls) == 1 and measured.memory is None
