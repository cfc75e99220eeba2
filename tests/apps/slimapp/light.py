"""Light routes: the standard library, pydantic and the package's own data file."""

from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel

from slimapp.hooks import OutOfStock, real_clock

GREETING = Path(__file__).parent / "data" / "greeting.txt"

router = APIRouter()


class Echo(BaseModel):
    text: str
    times: int = 1


@router.get("/ping")
def ping(request: Request, now: Annotated[str, Depends(real_clock)]) -> dict[str, str]:
    # Only slimapp.main has a lifespan (and overrides the clock).
    return {"ping": "pong", "now": now, "started_by": getattr(request.state, "started_by", "")}


@router.get("/greeting")
def greeting() -> dict[str, str]:
    return {"greeting": GREETING.read_text(encoding="utf-8").strip()}


@router.post("/echo", status_code=201)
def echo(body: Echo) -> Echo:
    return Echo(text=body.text * body.times, times=1)


@router.get("/items/{item_id:int}")
def item(item_id: int) -> dict[str, int]:
    if item_id > 100:
        raise OutOfStock(item_id)
    return {"item_id": item_id}
