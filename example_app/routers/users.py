"""Users: every route requires the API key (router-level dependency)."""

import hashlib
import sqlite3
from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Query, Response, status

from example_app.db import hash_password
from example_app.deps import DB, require_api_key
from example_app.images import solid_png
from example_app.models import User, UserCreate

router = APIRouter(dependencies=[Depends(require_api_key)])

USER_COLUMNS = "id, name, email, active"


def fetch_user(conn: sqlite3.Connection, user_id: int) -> User:
    row = conn.execute(f"SELECT {USER_COLUMNS} FROM users WHERE id = ?", (user_id,)).fetchone()
    if row is None:
        raise HTTPException(status_code=404, detail=f"User {user_id} does not exist")
    return User.model_validate(dict(row))


@router.get("")
def list_users(
    conn: DB,
    limit: Annotated[int, Query(ge=1, le=100)] = 10,
    offset: Annotated[int, Query(ge=0)] = 0,
    active: bool | None = None,
) -> list[User]:
    query = f"SELECT {USER_COLUMNS} FROM users"
    params: list[object] = []
    if active is not None:
        query += " WHERE active = ?"
        params.append(int(active))
    rows = conn.execute(query + " ORDER BY id LIMIT ? OFFSET ?", [*params, limit, offset])
    return [User.model_validate(dict(row)) for row in rows]


@router.post("", status_code=status.HTTP_201_CREATED)
def create_user(conn: DB, body: UserCreate) -> User:
    try:
        cursor = conn.execute(
            "INSERT INTO users (name, email, password_sha256) VALUES (?, ?, ?)",
            (body.name, body.email, hash_password(body.password)),
        )
    except sqlite3.IntegrityError:
        raise HTTPException(status_code=409, detail="Name or email already taken") from None
    assert cursor.lastrowid is not None
    return fetch_user(conn, cursor.lastrowid)


@router.get("/{user_id:int}")
def get_user(conn: DB, user_id: int) -> User:
    return fetch_user(conn, user_id)


@router.delete("/{user_id:int}", status_code=status.HTTP_204_NO_CONTENT)
def delete_user(conn: DB, user_id: int) -> None:
    if conn.execute("DELETE FROM users WHERE id = ?", (user_id,)).rowcount == 0:
        raise HTTPException(status_code=404, detail=f"User {user_id} does not exist")


@router.get(
    "/{user_id:int}/avatar",
    response_class=Response,
    responses={200: {"content": {"image/png": {}}, "description": "A 16x16 PNG."}},
)
def get_avatar(conn: DB, user_id: int) -> Response:
    """A placeholder avatar whose colour is derived from the user's name."""
    user = fetch_user(conn, user_id)
    r, g, b = hashlib.sha256(user.name.encode()).digest()[:3]
    return Response(content=solid_png(16, 16, (r, g, b)), media_type="image/png")
