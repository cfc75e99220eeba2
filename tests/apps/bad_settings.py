"""An out-of-range setting: Lambda memory must be at least 128 MB."""

from fastapi import FastAPI

app = FastAPI()


@app.get("/tiny", openapi_extra={"x-fastsplit": {"memory": 64}})
def tiny() -> dict[str, str]:
    return {"memory": "too small"}
