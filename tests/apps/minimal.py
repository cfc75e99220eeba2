"""The smallest useful app: one fixed route and one with a path parameter."""

from fastapi import FastAPI

app = FastAPI()


@app.get("/hello")
def hello() -> dict[str, str]:
    return {"message": "hello"}


@app.get("/hello/{name}")
def hello_name(name: str) -> dict[str, str]:
    return {"message": f"hello {name}"}
