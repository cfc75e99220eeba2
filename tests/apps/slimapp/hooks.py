"""Middleware, errors, the lifespan and the clock dependency of slimapp."""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send


class HeaderMiddleware:
    """Adds one response header; its options are plain data."""

    def __init__(self, app: ASGIApp, *, name: str, value: str) -> None:
        self.app = app
        self.header = (name.lower().encode(), value.encode())

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        async def send_with_header(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", []), self.header]
            await send(message)

        await self.app(scope, receive, send_with_header if scope["type"] == "http" else send)


class OutOfStock(Exception):
    def __init__(self, item_id: int) -> None:
        super().__init__(f"item {item_id} is out of stock")
        self.item_id = item_id


async def out_of_stock_handler(request: Request, exc: OutOfStock) -> JSONResponse:
    return JSONResponse({"error": "out_of_stock", "item_id": exc.item_id}, status_code=409)


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[dict[str, str]]:
    yield {"started_by": "lifespan"}


def real_clock() -> str:
    return "real time"


def test_clock() -> str:
    return "2024-01-01T00:00:00Z"


class Tagger:
    """An option value that is an object: a slim handler could not write it down."""

    def __init__(self, tag: str) -> None:
        self.tag = tag


class TaggingMiddleware:
    def __init__(self, app: ASGIApp, *, tagger: Tagger) -> None:
        self.inner = HeaderMiddleware(app, name="X-Tag", value=tagger.tag)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await self.inner(scope, receive, send)
