"""Endpoints made by a factory: closures, which no function can import by name."""

from collections.abc import Callable


def make_greeter(greeting: str) -> Callable[[str], dict[str, str]]:
    def greet(name: str) -> dict[str, str]:
        return {"message": f"{greeting}, {name}"}

    return greet
