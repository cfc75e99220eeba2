"""Assemble the example_app application (``uvicorn example_app.main:app``)."""

from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request, Response, WebSocket, WebSocketDisconnect
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import JSONResponse, RedirectResponse
from fastapi.routing import APIRoute
from fastapi.staticfiles import StaticFiles

from example_app import __version__, db
from example_app.config import Settings
from example_app.deps import DB
from example_app.errors import ItemNotFound
from example_app.routers import auth, files, items, users

# Resolved from this file, not the working directory, so it works wherever the code is unpacked.
STATIC_DIR = Path(__file__).parent / "static"


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


app = FastAPI(
    title="example_app",
    version=__version__,
    lifespan=lifespan,
    generate_unique_id_function=operation_id,
)

app.add_middleware(
    CORSMiddleware,
    allow_origins=["https://app.example.com", "http://localhost:3000"],
    allow_credentials=True,
    allow_methods=["GET", "POST", "PUT", "PATCH", "DELETE"],
    allow_headers=["Content-Type", "X-API-Key"],
    expose_headers=["X-App-Version"],
)


@app.middleware("http")
async def add_version_header(
    request: Request, call_next: Callable[[Request], Awaitable[Response]]
) -> Response:
    response = await call_next(request)
    response.headers["X-App-Version"] = __version__
    return response


@app.exception_handler(ItemNotFound)
async def item_not_found_handler(request: Request, exc: ItemNotFound) -> JSONResponse:
    return JSONResponse(
        status_code=404,
        content={"error": "item_not_found", "item_id": exc.item_id, "message": str(exc)},
        headers={"X-Error-Code": "ITEM_NOT_FOUND"},
    )


app.include_router(users.router, prefix="/users", tags=["users"])
app.include_router(items.router, prefix="/items", tags=["items"])
app.include_router(files.router, prefix="/files", tags=["files"])
app.include_router(auth.router, prefix="/auth", tags=["auth"])
app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")


@app.get("/")
def root() -> dict[str, str]:
    return {"name": "example_app", "version": __version__, "docs": "/docs"}


@app.get("/health")
def health(conn: DB) -> dict[str, str]:
    conn.execute("SELECT 1").fetchone()
    return {"status": "ok", "database": "ok"}


@app.get("/favicon.ico", include_in_schema=False)
def favicon() -> RedirectResponse:
    return RedirectResponse("/static/pixel.png")  # 307


@app.websocket("/ws/echo")
async def echo(websocket: WebSocket) -> None:
    await websocket.accept()
    try:
        while True:
            await websocket.send_text(f"echo: {await websocket.receive_text()}")
    except WebSocketDisconnect:
        pass
