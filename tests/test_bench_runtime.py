"""The runtime benchmark's baselines are what it says they are (no timing here).

bench/runtime_bench.py reads the light route's cold start against the floor and the
generated functions against a lambdalith: the floor must answer the light route's
request exactly as heavylight's light route does, and both must be served by Mangum from
the HTTP API events the bench sends.
"""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from fastapi import FastAPI
from mangum import Mangum

from bench.coldstart import http_event
from bench.runtime_apps import FLOOR_HANDLER, lambdalith_handler, write_heavylight


class Context:
    function_name = "fastsplit-bench"
    aws_request_id = "00000000-0000-0000-0000-000000000000"


def load(path: Path, name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_floor_answers_like_the_light_route(tmp_path: Path) -> None:
    write_heavylight(tmp_path)
    (tmp_path / "floor.py").write_text(FLOOR_HANDLER, encoding="utf-8")
    floor = load(tmp_path / "floor.py", "bench_floor_handler")
    # heavylight.main imports pandas (the heavy route); the light route's module does not.
    greet = load(tmp_path / "heavylight" / "greet.py", "bench_heavylight_greet")
    light = FastAPI()
    light.include_router(greet.router)
    event = http_event("GET", "/hello/world", route="/hello/{name}")

    ours: dict[str, Any] = Mangum(light, lifespan="off")(event, Context())  # type: ignore[arg-type]
    theirs: dict[str, Any] = floor.handler(event, Context())

    assert theirs["statusCode"] == ours["statusCode"] == 200
    assert json.loads(theirs["body"]) == json.loads(ours["body"]) == {"message": "hello, world"}
    assert event["pathParameters"] == {"name": "world"}


def test_lambdalith_handler_serves_the_whole_app(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("EXAMPLE_APP_DB", str(tmp_path / "example.sqlite3"))
    monkeypatch.setattr(sys, "path", [str(Path(__file__).parent.parent), *sys.path])
    (tmp_path / "lith.py").write_text(lambdalith_handler("example_app.main:app"), "utf-8")
    lith = load(tmp_path / "lith.py", "bench_lambdalith_handler")

    response = lith.handler(http_event("GET", "/items/1", route="/items/{item_id}"), Context())

    assert response["statusCode"] == 200
    assert json.loads(response["body"])["id"] == 1
