"""Cookie-based login for browser clients."""

import hmac
from typing import Annotated

from fastapi import APIRouter, Cookie, HTTPException, Response, status

from example_app.db import hash_password
from example_app.deps import DB, SettingsDep
from example_app.models import LoginRequest, User

router = APIRouter()


def sign(secret_key: str, user_id: int) -> str:
    """A deterministic session token: ``<user id>.<HMAC of the id>``."""
    digest = hmac.new(secret_key.encode(), f"user:{user_id}".encode(), "sha256").hexdigest()
    return f"{user_id}.{digest}"


def verify(secret_key: str, session: str | None) -> int | None:
    """Return the user id a session token was issued for, or None if it is not genuine."""
    user_id = (session or "").partition(".")[0]
    if not user_id.isdecimal():
        return None
    # Compare bytes: compare_digest rejects non-ASCII str, and cookies are client-controlled.
    expected = sign(secret_key, int(user_id)).encode()
    return int(user_id) if hmac.compare_digest((session or "").encode(), expected) else None


@router.post("/login")
def login(
    body: LoginRequest, response: Response, conn: DB, settings: SettingsDep
) -> dict[str, int | str]:
    row = conn.execute(
        "SELECT id, password_sha256 FROM users WHERE name = ? AND active = 1", (body.username,)
    ).fetchone()
    if row is None or not hmac.compare_digest(row["password_sha256"], hash_password(body.password)):
        raise HTTPException(status_code=status.HTTP_401_UNAUTHORIZED, detail="Bad credentials")
    response.set_cookie(
        "session", sign(settings.secret_key, row["id"]), max_age=3600, httponly=True
    )
    response.set_cookie("username", body.username, max_age=3600)
    response.headers["Cache-Control"] = "no-store"
    response.headers["X-Login-User"] = body.username
    return {"user_id": row["id"], "username": body.username}


@router.get("/me")
def me(conn: DB, settings: SettingsDep, session: Annotated[str | None, Cookie()] = None) -> User:
    user_id = verify(settings.secret_key, session)
    row = None
    if user_id is not None:
        row = conn.execute(
            "SELECT id, name, email, active FROM users WHERE id = ?", (user_id,)
        ).fetchone()
    if row is None:
        raise HTTPException(status_code=status.HTTP_401_UNAUTHORIZED, detail="Not logged in")
    return User.model_validate(dict(row))
