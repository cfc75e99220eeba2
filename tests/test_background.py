"""fastsplit.background: a JSON value worked out in a forked child, or here."""

from __future__ import annotations

import os
import sys
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from pydantic import BaseModel

from fastsplit.background import Background
from fastsplit.parser import describe_app

FORKS = sys.platform == "linux"
linux_only = pytest.mark.skipif(not FORKS, reason="fastsplit forks on Linux only")


def pid_and(value: Any) -> Callable[[], dict[str, Any]]:
    return lambda: {"pid": os.getpid(), "value": value}


@linux_only
def test_the_value_comes_from_a_child_process() -> None:
    value = {"paths": {"/a": {"GET": [1, "two", None]}}}
    found = Background(pid_and(value)).result()
    assert found["value"] == value
    assert found["pid"] != os.getpid()


def test_with_another_thread_running_it_works_here() -> None:
    stop = threading.Event()
    thread = threading.Thread(target=stop.wait)
    thread.start()
    try:
        found = Background(pid_and("x")).result()
    finally:
        stop.set()
        thread.join()
    assert found == {"pid": os.getpid(), "value": "x"}


@linux_only
def test_a_child_that_fails_is_worked_out_here_again() -> None:
    parent = os.getpid()

    def work() -> int:
        if os.getpid() != parent:
            raise RuntimeError("only in the child")
        return parent

    assert Background(work).result() == parent


def test_an_error_of_the_work_reaches_the_caller() -> None:
    def work() -> None:
        raise ValueError("no schema")

    with pytest.raises(ValueError, match="no schema"):
        Background(work).result()


@linux_only
def test_the_child_prints_nothing_to_stdout(capfd: pytest.CaptureFixture[str]) -> None:
    def work() -> int:
        print("from the child")
        return 1

    assert Background(work).result() == 1
    out, err = capfd.readouterr()
    assert "from the child" not in out
    assert "from the child" in err


@linux_only
def test_cancel_stops_the_child() -> None:
    ran = Background(lambda: __import__("time").sleep(60))
    pid = ran._pid
    ran.cancel()
    with pytest.raises(ChildProcessError):
        os.waitpid(pid, os.WNOHANG)  # reaped already


class Hook(BaseModel):
    # Validates (anything callable) but has no JSON schema: the OpenAPI schema fails.
    call: Callable[[], int] | None = None


hook_app = FastAPI()


@hook_app.get("/hook")
def hook() -> Hook:
    return Hook()


def test_an_openapi_schema_that_cannot_be_made_keeps_routes_full() -> None:
    spec = describe_app(
        hook_app,
        app_ref="tests.hook_main:app",  # the endpoints are not in the app module
        module=sys.modules[__name__],
        app_dir=Path(__file__).resolve().parent.parent,
    )
    (route,) = [r for r in spec.routes if r.path == "/hook"]
    assert route.slim is None
    assert "the app's OpenAPI schema, which the proof compares, cannot be made" in route.not_slim
    assert "PydanticInvalidForJsonSchema" in route.not_slim


def test_fork_false_works_it_out_here_when_asked() -> None:
    ran = Background(pid_and("small"), fork=False)
    assert ran._pid == 0
    assert ran.result() == {"pid": os.getpid(), "value": "small"}
