"""Assemble the example_app application (``uvicorn example_app.main:app``)."""

from pathlib import Path

from fastapi import FastAPI, WebSocket, WebSocketDisconnect
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import RedirectResponse
from fastapi.staticfiles import StaticFiles

from example_app import __version__
from example_app.deps import DB
from example_app.errors import ItemNotFound
from example_app.hooks import add_version_header, item_not_found_handler, lifespan, operation_id
from example_app.routers import auth, files, items, users

# Resolved from this file, not the working directory, so it works wherever the code is unpacked.
STATIC_DIR = Path(__file__).parent / "static"

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
app.middleware("http")(add_version_header)
app.add_exception_handler(ItemNotFound, item_not_found_handler)

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
