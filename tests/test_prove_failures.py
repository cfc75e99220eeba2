"""When proving a function goes wrong in the probe (its import takes too long, its
process dies) that function, and only it, is made full with the reason; without fork,
every function is proven in its own process, with the same answers."""

from __future__ import annotations

import os
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

from fastsplit.prove import prove_plan, run_probes
from tests.conftest import plan_for
from tests.test_prove_zygote import comparable

# /slow's module misbehaves at import when SLOWDEMO says how; /fast's is plain.
APP = {
    "__init__.py": "",
    "slow.py": """
        import os
        import time

        if os.environ.get("SLOWDEMO") == "sleep":
            time.sleep(60)
        elif os.environ.get("SLOWDEMO") == "die":
            os._exit(3)
        elif os.environ.get("SLOWDEMO") == "raise":
            raise RuntimeError("no database here")

        def slow() -> dict[str, str]:
            return {"speed": "slow"}
    """,
    "fast.py": """
        def fast() -> dict[str, str]:
            return {"speed": "fast"}
    """,
    "main.py": """
        from fastapi import FastAPI

        from slowdemo.fast import fast
        from slowdemo.slow import slow

        app = FastAPI()
        app.get("/slow")(slow)
        app.get("/fast")(fast)
    """,
}


@pytest.fixture(autouse=True)
def _forget_the_demo_app() -> Iterator[None]:
    yield
    for name in [n for n in sys.modules if n == "slowdemo" or n.startswith("slowdemo.")]:
        del sys.modules[name]


def write_app(root: Path) -> Path:
    package = root / "slowdemo"
    package.mkdir()
    for relative, text in APP.items():
        (package / relative).write_text(textwrap.dedent(text), "utf-8")
    return root


def modes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, how: str) -> dict[str, str]:
    """Each function's mode, or why it is full, when /slow's import does ``how`` in the
    probe (the monolith, imported here first, behaves)."""
    app_dir = write_app(tmp_path)
    plan = plan_for("slowdemo.main:app", app_dir)
    monkeypatch.setenv("SLOWDEMO", how)
    monkeypatch.setattr("fastsplit.prove.TIMEOUT", 1.0)
    proven = prove_plan(plan, app_dir=app_dir)
    return {f.name: f.not_slim or f.mode for f in proven.functions if f.kind == "route"}


@pytest.mark.parametrize(
    ("how", "reason"),
    [
        ("sleep", "importing the handler took over 1.0 s"),  # killed at the timeout
        ("die", "the proof process died (status 3)"),
    ],
)
def test_a_handler_import_that_times_out_or_dies_makes_that_function_full(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, how: str, reason: str
) -> None:
    found = modes(tmp_path, monkeypatch, how)
    assert found["get_fast"] == "slim"
    assert reason in found["get_slow"]


def test_a_handler_import_that_raises_makes_that_function_full_and_shows_where(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    app_dir = write_app(tmp_path)
    plan = plan_for("slowdemo.main:app", app_dir)
    monkeypatch.setenv("SLOWDEMO", "raise")
    slim = [f for f in plan.functions if f.mode == "slim"]
    answers = run_probes(plan, slim, app_dir=app_dir.resolve())
    assert "modules" in answers["get_fast"]
    failed = answers["get_slow"]
    assert failed["error"] == "importing the handler raised RuntimeError: no database here"
    # The handler is imported from its source, never written: its lines are still shown.
    trace = "\n".join(failed["traceback"])
    assert "handler.py" in trace
    assert "from slowdemo.slow import slow" in trace


def test_without_fork_each_function_has_its_own_process_and_the_same_answer(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    app_dir = write_app(tmp_path)
    plan = plan_for("slowdemo.main:app", app_dir)
    slim = [f for f in plan.functions if f.mode == "slim"]
    forked = run_probes(plan, slim, app_dir=app_dir.resolve())
    monkeypatch.delattr(os, "fork")
    alone = run_probes(plan, slim, app_dir=app_dir.resolve())
    assert comparable(alone) == comparable(forked)
    assert not any("error" in answer for answer in alone.values())
