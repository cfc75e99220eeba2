"""What main.py plugs into the app: lifespan, middleware, exception handlers, operation ids.

They live here rather than in main.py so that code serving one route can import them
without importing main.py, which builds every route (fastsplit's slim functions do that).
"""

from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI, Request, Response
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute

from example_app import __version__, db
from example_app.config import Settings
from example_app.errors import ItemNotFound


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[dict[str, Any]]:
    """Read settings and prepare the database once per process (once per Lambda cold start).

    The yielded dict becomes ``request.state`` for every request.
    """
    settings = Settings.from_env()
    db.init_db(settings.db_path)
    yield {"db_path": settings.db_path, "settings": settings}


def operation_id(route: APIRoute) -> str:
    """Stable operation ids for client generators: FastAPI's default picks the first
    method of a set, which varies between processes for multi-method routes."""
    return f"{route.name}_{'_'.join(sorted(route.methods)).lower()}"


async def add_version_header(
    request: Request, call_next: Callable[[Request], Awaitable[Response]]
) -> Response:
    response = await call_next(request)
    response.headers["X-App-Version"] = __version__
    return response


async def item_not_found_handler(request: Request, exc: ItemNotFound) -> JSONResponse:
    return JSONResponse(
        status_code=404,
        content={"error": "item_not_found", "item_id": exc.item_id, "message": str(exc)},
        headers={"X-Error-Code": "ITEM_NOT_FOUND"},
    )
