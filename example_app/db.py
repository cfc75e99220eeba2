"""SQLite storage.

All state lives in one SQLite file rather than in process memory, because every split
Lambda function is a separate process and must see the same data as the monolith.
"""

import hashlib
import os
import sqlite3

SCHEMA_VERSION = 1

SCHEMA = (
    """CREATE TABLE IF NOT EXISTS users (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        name TEXT NOT NULL UNIQUE,
        email TEXT NOT NULL UNIQUE,
        active INTEGER NOT NULL DEFAULT 1,
        password_sha256 TEXT NOT NULL
    )""",
    """CREATE TABLE IF NOT EXISTS items (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        name TEXT NOT NULL,
        price REAL NOT NULL,
        owner_id INTEGER REFERENCES users (id) ON DELETE SET NULL
    )""",
    "CREATE TABLE IF NOT EXISTS files (path TEXT PRIMARY KEY, content TEXT NOT NULL)",
)


def hash_password(password: str) -> str:
    """Demo-grade hashing; a real service would use a slow, salted KDF."""
    return hashlib.sha256(password.encode()).hexdigest()


SEED_USERS = (
    ("alice", "alice@example.com", 1, hash_password("alice-password")),
    ("bob", "bob@example.com", 1, hash_password("bob-password")),
    ("carol", "carol@example.com", 0, hash_password("carol-password")),
)
SEED_ITEMS = (
    ("Widget", 9.99, 1),
    ("Gadget", 24.5, 1),
    ("Doohickey", 3.25, 2),
    ("Gizmo", 100.0, None),
)
SEED_FILES = (
    ("readme.txt", "Welcome to example_app.\n"),
    ("docs/guide/intro.md", "# Introduction\n\nThis guide is stored in SQLite.\n"),
)


def connect(path: str) -> sqlite3.Connection:
    """Open a connection in autocommit mode; callers group writes with explicit transactions."""
    # FastAPI may run a sync dependency and the endpoint using it on different threadpool
    # threads, so the connection must not be pinned to the thread that created it.
    conn = sqlite3.connect(path, timeout=30, isolation_level=None, check_same_thread=False)
    conn.row_factory = sqlite3.Row
    conn.execute("PRAGMA foreign_keys = ON")
    return conn


def init_db(path: str) -> None:
    """Create the schema and seed rows once; safe to call from many processes at once.

    BEGIN IMMEDIATE takes the write lock before ``user_version`` is read, so exactly one
    process seeds a new file and the others wait, then see the version already set.
    """
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    conn = connect(path)
    try:
        conn.execute("BEGIN IMMEDIATE")
        try:
            if conn.execute("PRAGMA user_version").fetchone()[0] < SCHEMA_VERSION:
                for statement in SCHEMA:
                    conn.execute(statement)
                conn.executemany(
                    "INSERT INTO users (name, email, active, password_sha256) VALUES (?, ?, ?, ?)",
                    SEED_USERS,
                )
                conn.executemany(
                    "INSERT INTO items (name, price, owner_id) VALUES (?, ?, ?)", SEED_ITEMS
                )
                conn.executemany("INSERT INTO files (path, content) VALUES (?, ?)", SEED_FILES)
                conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
    finally:
        conn.close()
