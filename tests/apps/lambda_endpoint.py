"""A route whose endpoint is a lambda (route name ``<lambda>``, no importable name)."""

from fastapi import FastAPI

app = FastAPI()
app.add_api_route("/x", lambda: {"x": 1})
