"""The proof's shared imports (zygotes, :mod:`fastsplit.probe`) answer exactly like
proving every function from scratch: the same modules, each with the same importer, and
the same descriptions of the rebuilt app; a function whose import does not load what
the zygote preloaded is proven from scratch."""

from __future__ import annotations

import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from fastsplit.closure import OWN_MODULES
from fastsplit.probe import _absolute, replay
from fastsplit.prove import run_probes
from tests.conftest import APPS, plan_for


def test_replay_runs_a_preloaded_module_at_its_first_request() -> None:
    # The zygote ran "models", which asked for "base" then "util"; the child's router
    # asks for "models" first: in a fresh import, "models" would load "base" and "util".
    ran = {"models": [("models", "base", "models"), ("models", "util", "models")]}
    child = [(None, "router", "handler"), ("router", "models", "router")]
    fresh = replay(child, ran, preloaded={"models", "base", "util"})
    assert fresh == {"router": "handler", "models": "router", "base": "models", "util": "models"}


def test_replay_keeps_the_first_request_of_a_module() -> None:
    # The router asks for "util" before "models" does: "util" is the router's import.
    ran = {"models": [("models", "util", "models")]}
    child = [("router", "util", "router"), ("router", "models", "router")]
    fresh = replay(child, ran, preloaded={"models", "util"})
    assert fresh["util"] == "router"
    # A preloaded module nobody asks for is not in the fresh import.
    assert "other" not in replay(child, ran, preloaded={"models", "util", "other"})


def test_absolute_names_of_relative_imports() -> None:
    package = {"__name__": "shop.routers", "__package__": "shop.routers", "__path__": []}
    module = {"__name__": "shop.routers.users", "__package__": "shop.routers"}
    assert _absolute("models", module, 0) == "models"
    assert _absolute("models", module, 2) == "shop.models"
    assert _absolute("", module, 1) == "shop.routers"
    assert _absolute("deps", package, 1) == "shop.routers.deps"
    assert _absolute("deps", {"__name__": "shop.routers.users"}, 1) == "shop.routers.deps"
    assert _absolute("x", module, 5) == ""


@pytest.fixture(autouse=True)
def _forget_the_demo_app() -> Iterator[None]:
    """Each test writes its own zygote_demo package: import it afresh."""
    yield
    for name in [name for name in sys.modules if name.split(".")[0] == "zygote_demo"]:
        del sys.modules[name]


def write_demo(root: Path, files: dict[str, str]) -> None:
    """Write the zygote_demo package (``files``: relative path → text to dedent)."""
    package = root / "zygote_demo"
    package.mkdir()
    for relative, text in files.items():
        (package / relative).write_text(textwrap.dedent(text), "utf-8")


def comparable(answers: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """Answers without what names the temporary folder of a proof (the handler and the
    runtime module), nor which of their modules every handler loads (a shared proof
    says so: ``shared_modules``, also in ``modules``)."""
    out = {}
    for name, answer in answers.items():
        modules = [
            (m["name"], m["importer"], None if m["name"] in OWN_MODULES else m["file"], m["path"])
            for m in answer["modules"]
        ]
        out[name] = {**answer, "modules": modules, "loaded": None, "shared_modules": None}
    return out


def both_ways(app_ref: str, app_dir: Path) -> tuple[dict[str, Any], dict[str, Any]]:
    plan = plan_for(app_ref, app_dir)
    slim = [f for f in plan.functions if f.mode == "slim"]
    assert len(slim) >= 4  # enough for the probe to share imports
    shared = run_probes(plan, slim, app_dir=app_dir.resolve(), share=True)
    fresh = run_probes(plan, slim, app_dir=app_dir.resolve(), share=False)
    assert not any("error" in answer for answer in fresh.values())
    return comparable(shared), comparable(fresh)


def test_shared_imports_answer_like_fresh_imports() -> None:
    shared, fresh = both_ways("slimapp.main:app", APPS)
    assert shared == fresh


APP = {
    "__init__.py": "",
    "common.py": """
        from pydantic import BaseModel

        class Item(BaseModel):
            name: str
    """,
    "main.py": """
        from fastapi import FastAPI

        from zygote_demo import first, fourth, second, third

        app = FastAPI()
        for module in (first, second, third, fourth):
            app.include_router(module.router)
    """,
}
for index, (name, uses_common) in enumerate(
    [("first", True), ("second", True), ("third", False), ("fourth", False)]
):
    APP[f"{name}.py"] = f"""
        from fastapi import APIRouter
        {"from zygote_demo.common import Item" if uses_common else ""}

        router = APIRouter()

        @router.get("/{name}")
        def get_{name}() -> {"Item" if uses_common else "dict[str, int]"}:
            return {"Item(name='x')" if uses_common else "{'n': " + str(index) + "}"}
    """


def test_a_function_that_does_not_load_the_preloaded_modules_is_proven_from_scratch(
    tmp_path: Path,
) -> None:
    # The first two functions (what the probe learns from) import zygote_demo.common;
    # the last two do not, so the zygote that preloads it cannot prove them.
    write_demo(tmp_path, APP)
    shared, fresh = both_ways("zygote_demo.main:app", tmp_path)
    assert shared == fresh
    modules = {
        name: dict((m[0], m[1]) for m in answer["modules"]) for name, answer in shared.items()
    }
    assert modules["get_first"]["zygote_demo.common"] == "zygote_demo.first"
    assert modules["get_second"]["zygote_demo.common"] == "zygote_demo.second"
    assert "zygote_demo.common" not in modules["get_third"]
    assert "zygote_demo.common" not in modules["get_fourth"]


def test_a_module_that_starts_a_thread_is_not_preloaded(tmp_path: Path) -> None:
    # Forking a process with a second thread can leave its locks held in the children:
    # the zygote that would preload such a module steps aside.
    app = dict(APP)
    app["common.py"] += """
        import threading

        STOP = threading.Event()
        THREAD = threading.Thread(target=STOP.wait, daemon=True)
        THREAD.start()
    """
    write_demo(tmp_path, app)
    try:
        shared, fresh = both_ways("zygote_demo.main:app", tmp_path)
    finally:  # the thread started here, in the test's process too: no later test forks
        common = sys.modules.get("zygote_demo.common")
        if common is not None:
            common.STOP.set()
            common.THREAD.join()
    assert shared == fresh


def _router(*routes: tuple[str, int]) -> str:
    """A router module with one GET route per ``(name, number)``."""
    text = "from fastapi import APIRouter\n\nrouter = APIRouter()\n"
    for name, number in routes:
        text += f"""
@router.get("/{name}")
def {name}() -> dict[str, int]:
    return {{"n": {number}}}
"""
    return text


TWICE = {
    "__init__.py": "",
    "auth_a.py": """
        def key_a() -> None:
            return None
    """,
    "auth_b.py": """
        def key_b() -> None:
            return None
    """,
    "items.py": _router(("one", 1), ("two", 2)),
    "other.py": _router(("three", 3), ("four", 4)),
    "main.py": """
        from fastapi import Depends, FastAPI

        from zygote_demo import auth_a, auth_b, items, other

        app = FastAPI()
        app.include_router(other.router)
        app.include_router(items.router, prefix="/a", dependencies=[Depends(auth_a.key_a)])
        app.include_router(items.router, prefix="/b", dependencies=[Depends(auth_b.key_b)])
    """,
}


def test_functions_of_one_module_proven_in_turn_answer_like_fresh_imports(
    tmp_path: Path,
) -> None:
    # The four items functions share their endpoint module, so one process proves
    # them one after the other (but the first, which the probe learns from); /a's
    # import loads auth_a, /b's auth_b: a function proven after one that loaded a module
    # its own import does not load is proven again from scratch, and no closure carries
    # the other's module.
    write_demo(tmp_path, TWICE)
    shared, fresh = both_ways("zygote_demo.main:app", tmp_path)
    assert shared == fresh
    items = [name for name in shared if name.startswith(("get_a_", "get_b_"))]
    assert len(items) == 4
    for name, answer in shared.items():
        if name not in items:
            continue  # other's functions
        loaded = {m[0] for m in answer["modules"]}
        prefix = name[4]
        other = "b" if prefix == "a" else "a"
        assert f"zygote_demo.auth_{prefix}" in loaded, name
        assert f"zygote_demo.auth_{other}" not in loaded, name
