"""The scale benchmark's own pieces: the generated apps have the routes asked for, and
the process-tree runner sees a forked child's memory and stops what runs too long."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from bench.apps import write_app
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
