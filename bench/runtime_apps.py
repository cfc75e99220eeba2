"""The apps and hand-written handlers the runtime benchmark measures.

* ``write_heavylight(root)``: the package ``heavylight`` (issue 6's slim benchmark). Its
  app, assembled in ``heavylight.main``, has one light route (``GET /hello/{name}``, in
  ``heavylight.greet``), one heavy route (``GET /report``, in ``heavylight.report``,
  which imports pandas, a large library whose import is slow) and a few other light
  routes (``heavylight.items``). A slim function of the light route must neither import
  nor ship pandas; a full-mode function imports the whole app, pandas included.
* ``FLOOR_HANDLER``: the floor, a hand-written single-route FastAPI app on Mangum with
  the light route's endpoint, answering the same request the same way.
* ``lambdalith_handler(app_ref)``: a hand-written ``Mangum(app)`` over a whole app, the
  handler of the one-zip "lambdalith" deployment.
"""

from __future__ import annotations

from pathlib import Path

from bench.apps import GeneratedApp

HEAVYLIGHT = "heavylight"
LIGHT_ROUTE = ("GET", "/hello/{name}")
HEAVY_ROUTE = ("GET", "/report")

FLOOR_HANDLER = '''\
"""The floor: a hand-written single-route FastAPI app on Mangum, and nothing else."""

from fastapi import FastAPI
from mangum import Mangum

app = FastAPI()


@app.get("/hello/{name}")
def hello(name: str) -> dict[str, str]:
    return {"message": f"hello, {name}"}


handler = Mangum(app, lifespan="off")
'''

_HEAVYLIGHT_FILES = {
    "__init__.py": '"""heavylight: light routes and one heavy route (pandas), for fastsplit."""\n',
    "main.py": '''\
"""Assemble the app (``uvicorn heavylight.main:app``)."""

from fastapi import FastAPI

from heavylight import greet, items, report

app = FastAPI(title="heavylight", version="1.0.0")
app.include_router(greet.router)
app.include_router(items.router, prefix="/items", tags=["items"])
app.include_router(report.router)
''',
    "greet.py": '''\
"""The light route: the floor's endpoint, word for word."""

from fastapi import APIRouter

router = APIRouter()


@router.get("/hello/{name}")
def hello(name: str) -> dict[str, str]:
    return {"message": f"hello, {name}"}
''',
    "items.py": '''\
"""Other light routes: pydantic models and an in-memory table."""

from fastapi import APIRouter, HTTPException, status
from pydantic import BaseModel, Field

router = APIRouter()


class ItemIn(BaseModel):
    name: str = Field(min_length=1, max_length=50)
    price: float = Field(gt=0)


class Item(ItemIn):
    id: int


_ITEMS: dict[int, Item] = {1: Item(id=1, name="Widget", price=9.99)}


@router.get("")
def list_items() -> list[Item]:
    return list(_ITEMS.values())


@router.get("/{item_id}")
def get_item(item_id: int) -> Item:
    if item_id not in _ITEMS:
        raise HTTPException(status.HTTP_404_NOT_FOUND, "no such item")
    return _ITEMS[item_id]


@router.post("", status_code=status.HTTP_201_CREATED)
def create_item(body: ItemIn) -> Item:
    item = Item(id=max(_ITEMS, default=0) + 1, **body.model_dump())
    _ITEMS[item.id] = item
    return item
''',
    "report.py": '''\
"""The heavy route: pandas, imported when this module is."""

from typing import Annotated

import pandas as pd
from fastapi import APIRouter, Query

router = APIRouter()


@router.get("/report")
def report(values: Annotated[list[float], Query()]) -> dict[str, float]:
    stats = pd.Series(values).describe()
    return {"count": float(stats["count"]), "mean": float(stats["mean"])}
''',
}


def write_heavylight(root: Path) -> GeneratedApp:
    """Write the package ``heavylight`` under ``root`` (which must not hold one already)."""
    package = root / HEAVYLIGHT
    package.mkdir(parents=True)
    for name, text in sorted(_HEAVYLIGHT_FILES.items()):
        (package / name).write_text(text, encoding="utf-8")
    return GeneratedApp(app_dir=root, app_ref=f"{HEAVYLIGHT}.main:app", routes=5)


def lambdalith_handler(app_ref: str) -> str:
    """``handler.py`` of a one-zip deployment: the whole app on plain ``Mangum(app)``."""
    module, attribute = app_ref.split(":")
    return (
        '"""The lambdalith: the whole app on plain Mangum, written by hand."""\n\n'
        "from mangum import Mangum\n\n"
        f"from {module} import {attribute} as app\n\n"
        "handler = Mangum(app)\n"
    )
