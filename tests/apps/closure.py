"""Endpoints created by a factory: closures capture state a generated handler cannot see.

Both closures share the function name ``greet``; only their captured greeting differs.
"""

from collections.abc import Callable

from fastapi import FastAPI

app = FastAPI()


def make_greeter(greeting: str) -> Callable[[str], dict[str, str]]:
    def greet(name: str) -> dict[str, str]:
        return {"message": f"{greeting}, {name}"}

    return greet


app.add_api_route("/greet/{name}", make_greeter("hello"), methods=["GET"])
app.add_api_route("/bonjour/{name}", make_greeter("bonjour"), methods=["GET"])


@app.get("/plain")
def plain() -> dict[str, str]:
    return {"message": "a normal module-level endpoint"}
