"""Shared fixtures: fixture-app builds and an isolated environment per test."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from fastsplit.background import Background
from fastsplit.config import Config
from fastsplit.generator import render_build
from fastsplit.model import BuildPlan
from fastsplit.parser import load_app_spec
from fastsplit.planner import plan_build
from fastsplit.prove import prove_plan
from fastsplit.writer import write_build

REPO = Path(__file__).resolve().parent.parent
APPS = REPO / "tests" / "apps"


def plan_for(
    app_ref: str, app_dir: Path = APPS, config: Config | None = None, *, prove: bool = False
) -> BuildPlan:
    """Parse and plan a fixture app (``minimal:app`` ...) with the given config; with
    ``prove``, slim functions are proven (or made full) as a build does."""
    spec = load_app_spec(app_ref, app_dir=app_dir)
    plan = plan_build(spec, config or Config(app=app_ref, app_dir=app_dir))
    return prove_plan(plan, app_dir=app_dir) if prove else plan


def record_backgrounds(
    monkeypatch: pytest.MonkeyPatch, module: ModuleType
) -> list[tuple[Background, int]]:
    """Make ``module.Background`` note each one started, with its child's pid (0: the
    work runs in this process)."""
    started: list[tuple[Background, int]] = []

    class Recorded(Background):
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            started.append((self, self._pid))

    monkeypatch.setattr(module, "Background", Recorded)
    return started


def build_to(out: Path, app_ref: str, app_dir: Path = APPS, config: Config | None = None) -> Path:
    """Build a fixture app into ``out`` through the library API (what `build` does)."""
    plan = plan_for(app_ref, app_dir, config, prove=True)
    write_build(render_build(plan), out=out, app_dir=app_dir)
    return out


@pytest.fixture(autouse=True)
def _isolated_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Apps keep state in SQLite at $EXAMPLE_APP_DB: give every test its own file."""
    monkeypatch.setenv("EXAMPLE_APP_DB", str(tmp_path / "example_app.sqlite3"))
    monkeypatch.setenv("LIFESPAN_COUNTER_FILE", str(tmp_path / "lifespan-counter"))


@pytest.fixture(scope="session")
def example_build(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """example_app built once per test session (read-only for tests)."""
    out = tmp_path_factory.mktemp("example") / "build"
    build_to(out, "example_app.main:app", REPO)
    yield out
    shutil.rmtree(out, ignore_errors=True)


def pytest_configure(config: pytest.Config) -> None:
    # Subprocesses (generated handlers, tools) must never write bytecode into the
    # fixture apps or builds being compared.
    os.environ.setdefault("PYTHONDONTWRITEBYTECODE", "1")
