"""The OpenAPI side of the proof's fingerprint: FastAPI's schema, with each model's fields
made once for every schema the process makes (and again when the model changes)."""

from __future__ import annotations

import inspect
from contextlib import nullcontext
from typing import Any

import pytest
from fastapi import FastAPI
from pydantic import BaseModel

from fastsplit import fingerprint
from fastsplit.fingerprint import openapi_paths

v2 = pytest.importorskip("fastapi._compat.v2", reason="a FastAPI without _compat.v2")


class Address(BaseModel):
    street: str
    city: str


class User(BaseModel):
    name: str
    address: Address
    previous: list[Address] = []


def _one_route_app(method: str) -> FastAPI:
    app = FastAPI(title="t", version="1")

    def endpoint(user: User) -> User:
        return user

    app.add_api_route("/users", endpoint, methods=[method])
    return app


@pytest.fixture
def made(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The models FastAPI's own get_model_fields is called for, by name."""
    calls: list[str] = []
    real = v2.get_model_fields

    def counted(model: Any) -> Any:
        calls.append(model.__name__)
        return real(model)

    monkeypatch.setattr(v2, "get_model_fields", counted)
    monkeypatch.setattr(fingerprint, "_MODEL_FIELDS", type(fingerprint._MODEL_FIELDS)())
    return calls


def test_each_models_fields_are_made_once_for_every_schema(made: list[str]) -> None:
    first = openapi_paths(_one_route_app("POST"))
    assert sorted(set(made)) == ["Address", "User"]
    made.clear()
    second = openapi_paths(_one_route_app("PUT"))
    assert made == []  # the same models: their fields were made for the first schema
    assert first["/users"]["POST"]["operation"]["requestBody"]
    assert second["/users"]["PUT"]["operation"]["requestBody"]
    assert v2.get_model_fields.__name__ == "counted"  # put back after each schema


def test_the_schema_is_fastapis_own(made: list[str], monkeypatch: pytest.MonkeyPatch) -> None:
    openapi_paths(_one_route_app("POST"))  # remembered fields in use below
    remembered = openapi_paths(_one_route_app("PATCH"))
    monkeypatch.setattr(fingerprint, "_model_fields_remembered", nullcontext)
    assert remembered == openapi_paths(_one_route_app("PATCH"))


def test_a_rebuilt_model_gets_its_fields_made_again(made: list[str]) -> None:
    class Order(BaseModel):
        item: Item | None = None  # Item is defined below: the model is incomplete

    with fingerprint._model_fields_remembered():
        (before,) = v2.get_model_fields(Order)

    class Item(BaseModel):
        sku: str

    Order.model_rebuild(_types_namespace={"Item": Item})
    with fingerprint._model_fields_remembered():
        (after,) = v2.get_model_fields(Order)
        assert v2.get_model_fields(Order)[0] is after  # and remembered again
    assert made == ["Order", "Order"]
    assert "Item" in str(before.field_info.annotation)
    assert after.field_info.annotation == Item | None


def test_fastapis_parameters_are_worked_out_once() -> None:
    found = fingerprint.parameters(FastAPI.add_api_route)
    assert found is fingerprint.parameters(FastAPI.add_api_route)
    assert list(found) == list(inspect.signature(FastAPI.add_api_route).parameters)
