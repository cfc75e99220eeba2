"""Items: reads are public, writes require the API key (route-level dependency)."""

import sqlite3
from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Query, status

from example_app.deps import DB, require_api_key
from example_app.errors import ItemNotFound
from example_app.models import Item, ItemCreate, ItemUpdate

router = APIRouter()
REQUIRE_API_KEY = [Depends(require_api_key)]


def fetch_item(conn: sqlite3.Connection, item_id: int) -> Item:
    row = conn.execute("SELECT * FROM items WHERE id = ?", (item_id,)).fetchone()
    if row is None:
        raise ItemNotFound(item_id)
    return Item.model_validate(dict(row))


def unknown_owner(owner_id: int | None) -> HTTPException:
    return HTTPException(status_code=422, detail=f"Owner {owner_id} does not exist")


@router.get("")
def list_items(
    conn: DB,
    limit: Annotated[int, Query(ge=1, le=100)] = 10,
    offset: Annotated[int, Query(ge=0)] = 0,
    q: Annotated[str | None, Query(max_length=50, description="Name contains")] = None,
    max_price: Annotated[float | None, Query(ge=0)] = None,
) -> list[Item]:
    rows = conn.execute(
        "SELECT * FROM items WHERE (?1 IS NULL OR instr(lower(name), lower(?1)) > 0)"
        " AND (?2 IS NULL OR price <= ?2) ORDER BY id LIMIT ?3 OFFSET ?4",
        (q, max_price, limit, offset),
    )
    return [Item.model_validate(dict(row)) for row in rows]


@router.post("", status_code=status.HTTP_201_CREATED, dependencies=REQUIRE_API_KEY)
def create_item(conn: DB, body: ItemCreate) -> Item:
    try:
        cursor = conn.execute(
            "INSERT INTO items (name, price, owner_id) VALUES (?, ?, ?)",
            (body.name, body.price, body.owner_id),
        )
    except sqlite3.IntegrityError:
        raise unknown_owner(body.owner_id) from None
    assert cursor.lastrowid is not None
    return fetch_item(conn, cursor.lastrowid)


@router.get("/{item_id:int}")
def get_item(conn: DB, item_id: int) -> Item:
    return fetch_item(conn, item_id)


# PUT is kept as an alias of PATCH for older clients: both apply a partial update.
@router.api_route("/{item_id:int}", methods=["PUT", "PATCH"], dependencies=REQUIRE_API_KEY)
def update_item(conn: DB, item_id: int, body: ItemUpdate) -> Item:
    fetch_item(conn, item_id)
    changes = body.model_dump(exclude_unset=True, exclude_none=True)
    if changes:
        # Column names come from the model's fields, never from the request.
        assignments = ", ".join(f"{column} = ?" for column in changes)
        try:
            conn.execute(
                f"UPDATE items SET {assignments} WHERE id = ?", (*changes.values(), item_id)
            )
        except sqlite3.IntegrityError:
            raise unknown_owner(body.owner_id) from None
    return fetch_item(conn, item_id)


@router.delete(
    "/{item_id:int}", status_code=status.HTTP_204_NO_CONTENT, dependencies=REQUIRE_API_KEY
)
def delete_item(conn: DB, item_id: int) -> None:
    if conn.execute("DELETE FROM items WHERE id = ?", (item_id,)).rowcount == 0:
        raise ItemNotFound(item_id)
