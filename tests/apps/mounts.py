"""Mounted sub-applications: StaticFiles, a sub-FastAPI app and a raw ASGI app."""

from pathlib import Path

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles
from starlette.types import Receive, Scope, Send

STATIC_DIR = Path(__file__).parent / "mounts_static"

sub = FastAPI()


@sub.get("/")
def sub_root() -> dict[str, str]:
    return {"app": "sub"}


@sub.get("/items/{item_id}")
def sub_item(item_id: int) -> dict[str, int]:
    return {"item_id": item_id}


async def raw_app(scope: Scope, receive: Receive, send: Send) -> None:
    """A bare ASGI app, no framework: answers every HTTP request with fixed text."""
    assert scope["type"] == "http"
    body = f"raw {scope['method']}".encode()
    headers = [(b"content-type", b"text/plain"), (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    await send({"type": "http.response.body", "body": body})


app = FastAPI()


@app.get("/")
def root() -> dict[str, str]:
    return {"app": "main"}


app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
app.mount("/sub", sub, name="sub")
app.mount("/raw", raw_app, name="raw")
