"""A valid FastAPI app with nothing to split: no routes and no docs routes either."""

from fastapi import FastAPI

app = FastAPI(docs_url=None, redoc_url=None, openapi_url=None)
