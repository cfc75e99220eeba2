"""A misspelled setting key ("memroy") that must be reported, not silently ignored."""

from fastapi import FastAPI

app = FastAPI()


@app.get("/typo", openapi_extra={"x-fastsplit": {"memroy": 512}})
def typo() -> dict[str, str]:
    return {"setting": "misspelled"}
