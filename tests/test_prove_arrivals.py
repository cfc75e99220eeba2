"""The proof judges answers as the probe appends them to its answers log: each answer
when it arrives, never a "retry" placeholder, a replaced answer again, a record still
being written only once it is complete."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from fastsplit.probe import AnswersLog, record
from fastsplit.proof_io import Arrivals, proof_ahead
from fastsplit.prove import prove_plan, run_probes
from tests.conftest import APPS, plan_for

PRELUDE = [{"name": "fastapi", "file": "/x/fastapi/__init__.py", "path": [], "importer": None}]


def answer(importer: str) -> dict[str, Any]:
    module = {"name": "shop", "file": "/app/shop.py", "path": [], "importer": importer}
    return {"app": {}, "routes": [], "modules": [module], "prelude": True, "state": {}}


def setup(tmp_path: Path) -> tuple[Arrivals, AnswersLog]:
    (tmp_path / "prelude.json").write_text(json.dumps({"modules": PRELUDE}), "utf-8")
    log = AnswersLog()
    log.open(str(tmp_path / "answers.log"))
    return Arrivals([tmp_path / "answers.log"], tmp_path / "prelude.json"), log


def test_each_answer_arrives_once_with_the_prelude_merged(tmp_path: Path) -> None:
    seen, log = setup(tmp_path)
    assert seen.new() == []
    log.write("a", answer("handler"))
    ((name, got),) = seen.new()
    assert name == "a"
    assert [m["name"] for m in got["modules"]] == ["fastapi", "shop"]
    assert "prelude" not in got
    assert seen.new() == []  # not twice
    assert seen.final("a") is got


def test_a_retry_placeholder_is_not_an_answer(tmp_path: Path) -> None:
    seen, log = setup(tmp_path)
    log.write("b", {"retry": "its import does not load shop.models"})
    assert seen.new() == []
    seen.finish()
    assert seen.final("b", "the probe failed") == {"error": "the probe failed"}
    log.write("b", answer("handler"))
    assert [name for name, _ in seen.new()] == ["b"]


def test_an_answer_replaced_after_it_was_seen_arrives_again(tmp_path: Path) -> None:
    seen, log = setup(tmp_path)
    log.write("a", answer("handler"))
    ((_, first),) = seen.new()
    assert "modules" in first
    log.write("a", {"error": "importing the handler took over 300 s"})
    ((_, second),) = seen.new()
    assert second == {"error": "importing the handler took over 300 s"}
    assert seen.final("a") is second


def test_a_record_still_being_written_arrives_once_complete(tmp_path: Path) -> None:
    seen, _ = setup(tmp_path)
    data = record("a", answer("handler"))
    with open(tmp_path / "answers.log", "ab") as file:
        file.write(data[:-40])
        file.flush()
        assert seen.new() == []
        file.write(data[-40:])
    assert [name for name, _ in seen.new()] == ["a"]


def test_a_record_cut_short_by_a_killed_writer_does_not_hide_the_next(tmp_path: Path) -> None:
    seen, log = setup(tmp_path)
    with open(tmp_path / "answers.log", "ab") as file:
        file.write(record("a", answer("handler"))[:-40])  # and its writer died
    log.write("b", answer("handler"))
    assert [name for name, _ in seen.new()] == ["b"]
    seen.finish()
    assert seen.final("a") == {"error": "the proof gave no answer"}


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


def test_the_proof_writes_no_file_per_function() -> None:
    # A new file is a new inode; a thousand per build (and their removal) cost more than
    # the answers on some file systems: handlers are imported from their source, and
    # every answer goes into one log.
    plan = plan_for("slimapp.main:app", APPS, prove=False)
    slim = [f for f in plan.functions if f.mode == "slim"]
    assert len(slim) >= 4
    with proof_ahead(APPS) as ahead:
        proven = prove_plan(plan, app_dir=APPS, ahead=ahead)
        files = sorted(p.relative_to(ahead.root).as_posix() for p in ahead.root.rglob("*"))
    assert any(f.mode == "slim" for f in proven.functions)
    assert files == [
        "answers",
        f"answers/{slim[0].name}.log",
        "answers/prelude.json",
        "runtime",
        "runtime/fastsplit_runtime.py",
    ]
