"""Shared dependencies: settings and database from lifespan state, and API-key auth."""

import hmac
import sqlite3
from collections.abc import Iterator
from typing import Annotated

from fastapi import Depends, Header, HTTPException, Request, status

from example_app import db
from example_app.config import Settings


def get_settings(request: Request) -> Settings:
    settings: Settings = request.state.settings
    return settings


def get_db(request: Request) -> Iterator[sqlite3.Connection]:
    """One connection per request; the path comes from the lifespan state."""
    conn = db.connect(request.state.db_path)
    try:
        yield conn
    finally:
        conn.close()


SettingsDep = Annotated[Settings, Depends(get_settings)]
DB = Annotated[sqlite3.Connection, Depends(get_db)]


def require_api_key(
    settings: SettingsDep, x_api_key: Annotated[str | None, Header()] = None
) -> None:
    """Reject the request unless the X-API-Key header matches the configured key."""
    if x_api_key is None or not hmac.compare_digest(x_api_key.encode(), settings.api_key.encode()):
        raise HTTPException(
            status_code=status.HTTP_401_UNAUTHORIZED,
            detail="Missing or invalid API key",
            headers={"WWW-Authenticate": "APIKey"},
        )
