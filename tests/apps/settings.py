"""Per-route deployment settings carried in ``openapi_extra["x-fastsplit"]``."""

from fastapi import FastAPI

app = FastAPI()


@app.get("/report", openapi_extra={"x-fastsplit": {"memory": 1024, "timeout": 60}})
def report() -> dict[str, str]:
    return {"report": "heavy"}


@app.get("/renamed", openapi_extra={"x-fastsplit": {"name": "custom_name"}})
def renamed() -> dict[str, str]:
    return {"name": "custom_name"}


@app.get("/feature", openapi_extra={"x-fastsplit": {"environment": {"FEATURE": "on"}}})
def feature() -> dict[str, str]:
    return {"feature": "on"}


@app.post("/throttled", openapi_extra={"x-fastsplit": {"reserved_concurrency": 5}})
def throttled() -> dict[str, str]:
    return {"throttled": "yes"}


@app.get("/defaults")
def defaults() -> dict[str, str]:
    return {"settings": "none"}
