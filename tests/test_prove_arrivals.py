"""The proof judges answers as the probe writes them: each final answer once, never a
"retry" placeholder, and an answer replaced after it was seen is read again."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from fastsplit.proof_io import Arrivals, proof_ahead
from fastsplit.prove import prove_plan, run_probes
from tests.conftest import APPS, plan_for

PRELUDE = [{"name": "fastapi", "file": "/x/fastapi/__init__.py", "path": [], "importer": None}]


def write(path: Path, data: dict[str, Any]) -> None:
    """As the probe does: a new file, then os.replace."""
    path.with_suffix(".tmp").write_text(json.dumps(data), "utf-8")
    os.replace(path.with_suffix(".tmp"), path)


def answer(importer: str) -> dict[str, Any]:
    module = {"name": "shop", "file": "/app/shop.py", "path": [], "importer": importer}
    return {"app": {}, "routes": [], "modules": [module], "prelude": True, "state": {}}


def arrivals(tmp_path: Path) -> Arrivals:
    write(tmp_path / "prelude.json", {"modules": PRELUDE})
    requests = [{"name": n, "answer": str(tmp_path / f"{n}.json")} for n in ("a", "b")]
    return Arrivals(requests, tmp_path / "prelude.json")


def test_each_answer_arrives_once_with_the_prelude_merged(tmp_path: Path) -> None:
    seen = arrivals(tmp_path)
    assert seen.new() == []
    write(tmp_path / "a.json", answer("handler"))
    ((name, got),) = seen.new()
    assert name == "a"
    assert [m["name"] for m in got["modules"]] == ["fastapi", "shop"]
    assert "prelude" not in got
    assert seen.new() == []  # not twice
    assert seen.final("a") is got


def test_a_retry_placeholder_is_not_an_answer(tmp_path: Path) -> None:
    seen = arrivals(tmp_path)
    write(tmp_path / "b.json", {"retry": "its import does not load shop.models"})
    assert seen.new() == []
    assert seen.final("b") is None
    write(tmp_path / "b.json", answer("handler"))
    assert [name for name, _ in seen.new()] == ["b"]


def test_an_answer_replaced_after_it_was_seen_is_not_final(tmp_path: Path) -> None:
    seen = arrivals(tmp_path)
    write(tmp_path / "a.json", answer("handler"))
    assert len(seen.new()) == 1
    write(tmp_path / "a.json", {"error": "importing the handler took over 300 s"})
    assert seen.final("a") is None


def test_every_answer_is_seen_while_the_probe_runs_and_is_the_one_returned() -> None:
    plan = plan_for("slimapp.main:app", APPS)
    slim = [f for f in plan.functions if f.mode == "slim"]
    streamed: dict[str, dict[str, Any]] = {}
    answers = run_probes(
        plan, slim, app_dir=APPS.resolve(), on_answer=lambda n, a: streamed.setdefault(n, a)
    )
    assert set(answers) == {f.name for f in slim}
    # Most arrive while the probe runs (the last ones may land as it exits).
    assert streamed
    for name, got in streamed.items():
        assert answers[name] is got


def test_judging_as_answers_arrive_gives_the_plan_of_judging_at_the_end(
    monkeypatch: Any,
) -> None:
    # /mode falls back to full in the proof (the app module changes what it reads).
    plan = plan_for("slimapp.configured:app", APPS, prove=False)
    streamed = prove_plan(plan, app_dir=APPS)
    monkeypatch.setattr("fastsplit.proof_io.Arrivals.new", lambda self: [])
    at_the_end = prove_plan(plan, app_dir=APPS)
    assert streamed == at_the_end
    assert any(f.mode == "slim" for f in streamed.functions)
    assert any("monolith" in f.not_slim for f in streamed.functions if f.mode == "full")


def test_a_proof_started_ahead_is_used_once_and_only_for_its_app_folder(
    tmp_path: Path,
) -> None:
    plan = plan_for("slimapp.main:app", APPS, prove=False)
    with proof_ahead(tmp_path) as elsewhere:  # started for another folder: not used
        first = prove_plan(plan, app_dir=APPS, ahead=elsewhere)
        assert not elsewhere.used
    with proof_ahead(APPS) as ahead:
        second = prove_plan(plan, app_dir=APPS, ahead=ahead)
        assert ahead.used
        third = prove_plan(plan, app_dir=APPS, ahead=ahead)  # used up: a new probe
    assert first == second == third
    assert any(f.mode == "slim" for f in first.functions)
