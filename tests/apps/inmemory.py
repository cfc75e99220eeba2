"""State kept in module globals: works in one process, breaks once routes are split.

fastsplit should warn about the routes that touch ``users_db`` and ``events`` and stay
quiet about ``constant``, which only reads immutable module constants.
"""

from fastapi import FastAPI, HTTPException

app = FastAPI()

users_db: dict[int, dict[str, str]] = {}
events: list[str] = []

GREETING = "hello"
LEVELS = ("debug", "info", "warning")


@app.post("/users/{user_id}", status_code=201)
def create_user(user_id: int, name: str) -> dict[str, str]:
    users_db[user_id] = {"name": name}
    events.append(f"created {user_id}")
    return users_db[user_id]


@app.get("/users/{user_id}")
def get_user(user_id: int) -> dict[str, str]:
    if user_id not in users_db:
        raise HTTPException(status_code=404, detail="unknown user")
    return users_db[user_id]


@app.get("/events")
def list_events() -> list[str]:
    return events


@app.get("/constant")
def constant() -> dict[str, object]:
    return {"greeting": GREETING, "levels": LEVELS}
