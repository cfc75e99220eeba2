"""Nested routers, one router included twice, and an app-level dependency override.

Resulting paths:
    GET /api/outer/middle/info            (X-Token header required)
    GET /api/outer/middle/leaf/text       (X-Token; plain text)
    GET /api/outer/middle/leaf/whoami     (X-Token; plain text, dependency overridden)
    GET /v1/shared/ping, GET /v2/shared/ping
"""

from typing import Annotated

from fastapi import APIRouter, Depends, FastAPI, Header, HTTPException
from fastapi.responses import PlainTextResponse


def require_token(x_token: Annotated[str | None, Header()] = None) -> None:
    if x_token != "tree-token":
        raise HTTPException(status_code=401, detail="X-Token header invalid")


def current_user() -> str:
    return "real-user"


def override_user() -> str:
    return "override-user"


leaf = APIRouter(prefix="/leaf", tags=["leaf"], default_response_class=PlainTextResponse)


@leaf.get("/text")
def leaf_text() -> str:
    return "plain text from the leaf"


@leaf.get("/whoami")
def whoami(user: Annotated[str, Depends(current_user)]) -> str:
    return f"user={user}"


middle = APIRouter(prefix="/middle", tags=["middle"], dependencies=[Depends(require_token)])


@middle.get("/info")
def middle_info() -> dict[str, str]:
    return {"level": "middle"}


middle.include_router(leaf)

outer = APIRouter(prefix="/outer", tags=["outer"])
outer.include_router(middle)

shared = APIRouter(prefix="/shared", tags=["shared"])


@shared.get("/ping")
def ping() -> dict[str, str]:
    return {"ping": "pong"}


app = FastAPI()
app.include_router(outer, prefix="/api")
app.include_router(shared, prefix="/v1")
app.include_router(shared, prefix="/v2")
app.dependency_overrides[current_user] = override_user
