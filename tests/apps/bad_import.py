"""Importing this module fails the way a misconfigured real app does."""

from fastapi import FastAPI


def load_database_url() -> str:
    # Always fails, even where DATABASE_URL happens to be set, so the fixture is reliable.
    raise RuntimeError("DATABASE_URL is not set")


DATABASE_URL = load_database_url()
app = FastAPI()
