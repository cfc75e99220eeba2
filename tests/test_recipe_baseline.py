"""A route's baseline (what ``add_api_route`` gives every option when only the path and
endpoint are given) is made from a parameterless stand-in for plain functions: each
option must be exactly what the endpoint itself gives."""

from __future__ import annotations

import functools
import inspect
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest
from fastapi import FastAPI, Query
from fastapi.responses import HTMLResponse
from fastapi.routing import APIRouter
from pydantic import BaseModel

from fastsplit.recipe import _baseline_route, _same, _same_exactly, _stand_in


class Item(BaseModel):
    name: str
    price: float = 0


def plain(item_id: int, q: str | None = Query(None)) -> Item:
    """Read an item.

    More about it.
    \f
    Not for the docs.
    """
    return Item(name=str(item_id))


async def coroutine(item: Item) -> list[Item]:
    return [item]


def generator() -> Iterator[Item]:
    yield Item(name="a")


async def async_generator() -> AsyncIterator[Item]:
    yield Item(name="a")


def response_annotation() -> HTMLResponse:
    return HTMLResponse("<p>hi</p>")


def no_annotation(limit: int = 10):  # type: ignore[no-untyped-def]
    return {"limit": limit}


ENDPOINTS = [plain, coroutine, generator, async_generator, response_annotation, no_annotation]


def _route(path: str, endpoint: Any, methods: list[str]) -> Any:
    app = FastAPI(openapi_url=None)
    app.add_api_route(path, endpoint, methods=methods)
    return app.router.routes[-1]


def _options(route: Any) -> dict[str, Any]:
    names = inspect.signature(APIRouter.add_api_route).parameters
    skip = {"self", "path", "endpoint", "methods", "dependency_overrides_provider"}
    return {
        name: getattr(route, name) for name in names if name not in skip and hasattr(route, name)
    }


@pytest.mark.parametrize("endpoint", ENDPOINTS, ids=lambda e: e.__name__)
@pytest.mark.parametrize("methods", [["GET"], ["POST", "PUT"]])
def test_the_stand_ins_baseline_is_the_endpoints_own(endpoint: Any, methods: list[str]) -> None:
    assert _stand_in(endpoint) is not None
    effective = _route("/items/{item_id}", endpoint, methods)
    baseline = _baseline_route(effective)
    own = _route(effective.path, endpoint, sorted(effective.methods))
    assert baseline.endpoint is not endpoint  # made from the stand-in
    expected, got = _options(own), _options(baseline)
    assert expected.keys() == got.keys()
    for name, value in expected.items():
        same = _same_exactly if name == "response_class" else _same
        assert same(value, got[name]), name
    assert got["name"] == endpoint.__name__
    assert baseline.unique_id == own.unique_id


def test_the_stand_in_keeps_what_the_defaults_come_from() -> None:
    stand_in = _stand_in(plain)
    assert inspect.signature(stand_in).parameters == {}
    assert stand_in.__name__ == "plain"
    assert stand_in.__qualname__ == plain.__qualname__
    assert stand_in.__module__ == plain.__module__
    assert stand_in.__doc__ == plain.__doc__
    assert stand_in.__globals__ is plain.__globals__
    assert stand_in.__annotations__ == {"return": "Item"}  # read in the endpoint's globals
    assert inspect.iscoroutinefunction(_stand_in(coroutine))
    assert inspect.isgeneratorfunction(_stand_in(generator))
    assert inspect.isasyncgenfunction(_stand_in(async_generator))


def _decorated(func: Any) -> Any:
    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        return func(*args, **kwargs)

    return wrapper


class CallableEndpoint:
    def __call__(self) -> Item:
        return Item(name="c")


def with_signature() -> None: ...


with_signature.__signature__ = inspect.Signature(return_annotation=Item)  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    "endpoint",
    [
        _decorated(plain),
        functools.partial(plain, 1),
        CallableEndpoint(),
        with_signature,
        len,
    ],
    ids=["decorated", "partial", "callable object", "__signature__", "builtin"],
)
def test_no_stand_in_for_what_is_not_a_plain_function(endpoint: Any) -> None:
    """Their signature or globals may come from another object: the baseline is made
    from the endpoint itself."""
    assert _stand_in(endpoint) is None


def test_a_decorated_endpoints_baseline_is_made_from_it() -> None:
    endpoint = _decorated(plain)
    effective = _route("/items/{item_id}", endpoint, ["GET"])
    baseline = _baseline_route(effective)
    assert baseline.endpoint is endpoint
    assert baseline.response_model is Item


class Session:
    """Not a pydantic type: FastAPI cannot infer a response model from it."""


def returns_a_session() -> Session:
    return Session()


def test_no_baseline_when_fastapi_refuses_the_route() -> None:
    """The route needs ``response_model=None``: without options, from its endpoint or
    its stand-in, FastAPI refuses it."""
    app = FastAPI(openapi_url=None)
    app.add_api_route("/session", returns_a_session, methods=["GET"], response_model=None)
    with pytest.raises(Exception, match="response"):
        _route("/session", returns_a_session, ["GET"])
    assert _baseline_route(app.router.routes[-1]) is None
