"""Golden files: the generated text of whole builds, compared file by file.

`make regen-golden` rewrites tests/golden/ from the current generator; review the diff.
The app's own files that a build copies into function folders are left out here (they
are verbatim copies, checked in test_writer.py); everything fastsplit writes is in, but
imports.json: its import chains run through the installed third-party packages, so it
changes with their versions (tests/test_slim.py checks it on a fixture app).
"""

from __future__ import annotations

import subprocess
import sys
import threading
from functools import cache
from pathlib import Path

import pytest

from fastsplit import generator
from fastsplit.config import Config
from fastsplit.generator import IMPORTS_FILE, RUNTIME_MODULE, render_build, runtime_source
from tests.conftest import APPS, REPO, plan_for, record_backgrounds

GOLDEN = Path(__file__).with_name("golden")

# name → (APP, app dir, config)
CASES: dict[str, tuple[str, Path, Config]] = {
    "example_app": ("example_app.main:app", REPO, Config()),
    "minimal": ("minimal:app", APPS, Config()),
    "nasty": ("nasty:app", APPS, Config()),
    "routers_tree": ("routers_tree:app", APPS, Config(docs=False)),
    "mounts": ("mounts:app", APPS, Config(fallback=False)),
    "slimapp": ("slimapp.main:app", APPS, Config(docs=False)),
    "settings": (
        "settings:app",
        APPS,
        Config(
            service="settings-demo",
            stage="prod",
            region="eu-west-1",
            runtime="python3.13",
            architecture="arm64",
            memory=256,
            timeout=10,
            environment=(("LOG_LEVEL", "info"),),
            iam_statements=(
                {"Effect": "Allow", "Action": ["s3:GetObject"], "Resource": "arn:aws:s3:::b/*"},
            ),
            routes=(
                ("/report", {"memory": 2048}),
                (
                    "GET /feature",
                    {
                        "provisioned_concurrency": 2,
                        "iam_statements": [
                            {"Effect": "Allow", "Action": "sqs:SendMessage", "Resource": "*"}
                        ],
                    },
                ),
            ),
        ),
    ),
}


@cache
def render_case(name: str, *, with_runtime: bool = False) -> dict[str, str]:
    """The generated text files; the runtime module (a verbatim copy of
    fastsplit/runtime.py in every function) only when asked for."""
    app_ref, app_dir, config = CASES[name]
    plan = plan_for(app_ref, app_dir, config, prove=True)
    return {
        out.path: out.text
        for out in render_build(plan)
        if out.text is not None
        and out.path != IMPORTS_FILE
        and (with_runtime or not out.path.endswith(RUNTIME_MODULE))
    }


def expected_case(name: str) -> dict[str, str]:
    root = GOLDEN / name
    return {
        path.relative_to(root).as_posix(): path.read_text(encoding="utf-8")
        for path in sorted(root.rglob("*"))
        if path.is_file()
    }


@pytest.mark.parametrize("name", sorted(CASES))
def test_build_matches_golden_tree(name: str) -> None:
    generated = render_case(name)
    expected = expected_case(name)
    assert sorted(generated) == sorted(expected), "file lists differ: run `make regen-golden`"
    for path, text in generated.items():
        assert text == expected[path], f"{name}/{path} differs: run `make regen-golden`"


@pytest.mark.parametrize("name", sorted(CASES))
def test_every_function_carries_the_runtime_module_verbatim(name: str) -> None:
    files = render_case(name, with_runtime=True)
    handlers = [path for path in files if path.endswith("/handler.py")]
    runtimes = {path: text for path, text in files.items() if path.endswith(RUNTIME_MODULE)}
    assert len(runtimes) == len(handlers) > 0
    assert set(runtimes.values()) == {runtime_source()}


@pytest.mark.parametrize("name", sorted(CASES))
def test_generated_python_compiles_lints_and_is_formatted(name: str, tmp_path: Path) -> None:
    """Generated code is read by users: it compiles, passes ruff's default rules and is
    ruff-formatted (line length 100)."""
    python_files = []
    for path, text in render_case(name, with_runtime=True).items():
        if path.endswith(".py"):
            target = tmp_path / path
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(text, encoding="utf-8")
            python_files.append(str(target))
            compile(text, path, "exec")  # what `python -m py_compile` checks
    assert python_files
    ruff = str(Path(sys.executable).with_name("ruff"))
    for command in (
        [ruff, "check", "--isolated", "--no-cache", "--select", "E4,E7,E9,F,W,B"],
        [ruff, "format", "--isolated", "--no-cache", "--check", "--line-length", "100"],
    ):
        result = subprocess.run(
            [*command, *python_files], capture_output=True, text=True, check=False
        )
        assert result.returncode == 0, result.stdout + result.stderr


def test_a_big_build_renders_the_same_files_with_its_json_made_on_another_core(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """From BACKGROUND_DOCUMENTS functions on, manifest.json and imports.json are made in
    a forked child (on Linux): the same text, imports.json included."""
    app_ref, app_dir, config = CASES["example_app"]
    plan = plan_for(app_ref, app_dir, config, prove=True)
    here = {out.path: out.text for out in render_build(plan)}
    monkeypatch.setattr(generator, "BACKGROUND_DOCUMENTS", 1)
    started = record_backgrounds(monkeypatch, generator)
    forked = {out.path: out.text for out in render_build(plan)}
    assert forked == here
    if sys.platform == "linux":  # the one child really ran
        assert len(started) == 1 and started[0][1] != 0, threading.enumerate()
    assert here["manifest.json"] and here[IMPORTS_FILE]
