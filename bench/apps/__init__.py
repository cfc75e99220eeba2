"""A generator of realistic FastAPI apps of any size, for the packaging benchmark.

``write_app(root, routes=30)`` writes the package ``shopapi`` into ``root``: one router
module per resource (users, products, orders, ...) with list/get/create/update/delete
routes, pydantic models per resource (create, partial update, response), and shared
dependencies (an in-memory store standing in for a database session, pagination, an API
key check on writes). It imports only fastapi and pydantic, so ``fastsplit build`` can
import it from the dev venv; the store keeps every route runnable.

With ``models_per_resource=True`` the models are a package, one module per resource
(``shopapi/models/users.py``), as large apps split them by domain: a route then imports
its own resource's models only, instead of one module whose size grows with the app.

Generated text goes through ``repr`` wherever a value lands in Python source.
"""

from __future__ import annotations

import keyword
from dataclasses import dataclass
from pathlib import Path

PACKAGE = "shopapi"

# (field name, annotation, Field(...) arguments) per resource; the first field is required.
_RESOURCES: tuple[tuple[str, tuple[tuple[str, str, str], ...]], ...] = (
    ("users", (("email", "str", "min_length=3, max_length=254"), ("name", "str", "max_length=99"))),
    ("products", (("name", "str", "min_length=1, max_length=100"), ("price", "float", "gt=0"))),
    ("orders", (("user_id", "int", "ge=1"), ("status", "OrderStatus", "")),),
    ("reviews", (("product_id", "int", "ge=1"), ("rating", "int", "ge=1, le=5"))),
    ("categories", (("name", "str", "max_length=50"), ("parent_id", "int | None", ""))),
    ("suppliers", (("name", "str", "max_length=100"), ("country", "str", "pattern='^[A-Z]{2}$'"))),
    ("warehouses", (("code", "str", "max_length=10"), ("capacity", "int", "ge=0"))),
    ("shipments", (("order_id", "int", "ge=1"), ("carrier", "str", "max_length=40"))),
    ("coupons", (("code", "str", "max_length=20"), ("percent_off", "float", "gt=0, le=100"))),
    ("invoices", (("order_id", "int", "ge=1"), ("total", "float", "ge=0"))),
    ("payments", (("invoice_id", "int", "ge=1"), ("amount", "float", "gt=0"))),
    ("carts", (("user_id", "int", "ge=1"), ("note", "str | None", "max_length=200"))),
)  # fmt: skip
ROUTES_PER_RESOURCE = 5


@dataclass(frozen=True)
class GeneratedApp:
    app_dir: Path
    """Folder to import from (``--app-dir``)."""
    app_ref: str
    routes: int


def write_app(root: Path, *, routes: int = 30, models_per_resource: bool = False) -> GeneratedApp:
    """Write a ``routes``-route app under ``root`` (which must not hold one already)."""
    if routes < 1:
        raise ValueError("routes must be at least 1")
    package = root / PACKAGE
    (package / "routers").mkdir(parents=True)
    resources = _resources(routes)
    names = [name for name, _ in resources]
    files = {
        "__init__.py": '"""Shop API: a generated FastAPI app for the fastsplit benchmark."""\n',
        "deps.py": _DEPS,
        "main.py": _main(names),
        "routers/__init__.py": "",
    }
    if models_per_resource:
        (package / "models").mkdir()
        files["models/__init__.py"] = '"""Request and response models, per resource."""\n'
        files["models/common.py"] = _COMMON_MODELS
        for name in names:
            files[f"models/{name}.py"] = _models([name], common=True)
    else:
        files["models.py"] = _models(names)
    for name, count in resources:
        models = f"{PACKAGE}.models.{name}" if models_per_resource else f"{PACKAGE}.models"
        files[f"routers/{name}.py"] = _router(name, count, models=models)
    for relative, text in sorted(files.items()):
        (package / relative).write_text(text, encoding="utf-8")
    return GeneratedApp(app_dir=root, app_ref=f"{PACKAGE}.main:app", routes=routes)


def _resources(routes: int) -> list[tuple[str, int]]:
    """(name, route count) per resource; past 60 routes the names repeat with a number."""
    result = []
    for index in range(-(-routes // ROUTES_PER_RESOURCE)):
        name = _RESOURCES[index % len(_RESOURCES)][0]
        if index >= len(_RESOURCES):
            name = f"{name}{index // len(_RESOURCES) + 1}"
        count = min(ROUTES_PER_RESOURCE, routes - index * ROUTES_PER_RESOURCE)
        result.append((name, count))
    return result


def _singular(name: str) -> str:
    stem = name.rstrip("0123456789")
    suffix = name[len(stem) :]
    base = stem[:-3] + "y" if stem.endswith("ies") else stem.removesuffix("s")
    return base + suffix


def _class(name: str) -> str:
    return "".join(part.capitalize() for part in _singular(name).split("_"))


def _models(names: list[str], *, common: bool = False) -> str:
    """One module of models for ``names``; with ``common``, OrderStatus is imported from
    ``models.common`` instead of defined here."""
    catalog = dict(_RESOURCES)
    if not common:
        lines = [
            '"""Request and response models, one family per resource."""',
            "",
            "from enum import StrEnum",
            "",
            "from pydantic import BaseModel, ConfigDict, Field",
            "",
            "",
            "class OrderStatus(StrEnum):",
            '    pending = "pending"',
            '    paid = "paid"',
            '    shipped = "shipped"',
            "",
        ]
    else:
        (name,) = names
        uses_status = any("OrderStatus" in a for _, a, _ in catalog[name.rstrip("0123456789")])
        lines = [f'"""Models of {name}."""', ""]
        lines.append("from pydantic import BaseModel, ConfigDict, Field")
        if uses_status:
            lines += ["", f"from {PACKAGE}.models.common import OrderStatus"]
        lines.append("")
    for name in names:
        cls = _class(name)
        fields = catalog[name.rstrip("0123456789")]
        lines += ["", f"class {cls}Create(BaseModel):"]
        lines += ['    model_config = ConfigDict(extra="forbid")', ""]
        for field, annotation, args in fields:
            default = "None" if "None" in annotation else "..."
            lines.append(f"    {field}: {annotation} = Field({_args(default, args)})")
        lines += ["", "", f"class {cls}Update(BaseModel):"]
        for field, annotation, args in fields:
            optional = annotation if "None" in annotation else f"{annotation} | None"
            lines.append(f"    {field}: {optional} = Field({_args('None', args)})")
        lines += ["", "", f"class {cls}({cls}Create):", "    id: int", ""]
    return "\n".join(lines) + "\n"


def _args(default: str, args: str) -> str:
    return f"{default}, {args}" if args else default


def _main(names: list[str]) -> str:
    modules = sorted(names)
    lines = [
        '"""Assemble the app: one router per resource (``uvicorn shopapi.main:app``)."""',
        "",
        "from fastapi import FastAPI",
        "",
        f"from {PACKAGE}.routers import {', '.join(modules)}",
        "",
        f"app = FastAPI(title={'Shop API'!r}, version={'1.0.0'!r})",
        "",
    ]
    lines += [f"app.include_router({module}.router)" for module in modules]
    return "\n".join(lines) + "\n"


def _router(name: str, count: int, *, models: str = f"{PACKAGE}.models") -> str:
    cls = _class(name)
    item = _singular(name)
    key = f"{item}_id"
    if keyword.iskeyword(item):
        raise ValueError(f"resource {name!r} makes a keyword")
    routes = [
        f"""@router.get("")
def list_{name}(store: StoreDep, page: PageDep) -> list[{cls}]:
    return [{cls}(**row) for row in store.list({name!r}, page.offset, page.limit)]
""",
        f"""@router.get("/{{{key}}}")
def get_{item}(store: StoreDep, {key}: int) -> {cls}:
    return {cls}(**store.get({name!r}, {key}))
""",
        f"""@router.post("", status_code=status.HTTP_201_CREATED, dependencies=WRITE)
def create_{item}(store: StoreDep, body: {cls}Create) -> {cls}:
    return {cls}(**store.create({name!r}, body.model_dump()))
""",
        f"""@router.patch("/{{{key}}}", dependencies=WRITE)
def update_{item}(store: StoreDep, {key}: int, body: {cls}Update) -> {cls}:
    return {cls}(**store.update({name!r}, {key}, body.model_dump(exclude_unset=True)))
""",
        f"""@router.delete("/{{{key}}}", status_code=status.HTTP_204_NO_CONTENT, dependencies=WRITE)
def delete_{item}(store: StoreDep, {key}: int) -> None:
    store.delete({name!r}, {key})
""",
    ]
    used = [f"{cls}", f"{cls}Create", f"{cls}Update"][: 1 + (count > 2) + (count > 3)]
    head = [
        f'"""{name.capitalize()}: reads are public, writes need the API key."""',
        "",
        "from fastapi import APIRouter" + (", Depends, status" if count > 2 else ""),
        "",
        f"from {PACKAGE}.deps import PageDep, StoreDep"
        + (", require_api_key" if count > 2 else ""),
        f"from {models} import {', '.join(used)}",
        "",
        f"router = APIRouter(prefix={'/' + name!r}, tags=[{name!r}])",
    ]
    if count > 2:
        head.append("WRITE = [Depends(require_api_key)]")
    return "\n".join(head) + "\n\n\n" + "\n\n".join(routes[:count])


_COMMON_MODELS = '''"""What several resources\' models share."""

from enum import StrEnum


class OrderStatus(StrEnum):
    pending = "pending"
    paid = "paid"
    shipped = "shipped"
'''

_DEPS = f'''"""Dependencies shared by every router.

``Store`` stands in for a database session: a process-wide in-memory table per resource,
so every route runs without a server.
"""

import os
from dataclasses import dataclass
from itertools import count
from typing import Annotated, Any

from fastapi import Depends, Header, HTTPException, Query, status


class Store:
    def __init__(self) -> None:
        self._tables: dict[str, dict[int, dict[str, Any]]] = {{}}
        self._ids = count(1)

    def _table(self, name: str) -> dict[int, dict[str, Any]]:
        return self._tables.setdefault(name, {{}})

    def list(self, name: str, offset: int, limit: int) -> list[dict[str, Any]]:
        rows = sorted(self._table(name).items())
        return [row for _, row in rows[offset : offset + limit]]

    def get(self, name: str, row_id: int) -> dict[str, Any]:
        row = self._table(name).get(row_id)
        if row is None:
            raise HTTPException(status.HTTP_404_NOT_FOUND, f"{{name}} {{row_id}} not found")
        return row

    def create(self, name: str, values: dict[str, Any]) -> dict[str, Any]:
        row = {{**values, "id": next(self._ids)}}
        self._table(name)[row["id"]] = row
        return row

    def update(self, name: str, row_id: int, values: dict[str, Any]) -> dict[str, Any]:
        row = self.get(name, row_id)
        row.update(values)
        return row

    def delete(self, name: str, row_id: int) -> None:
        self.get(name, row_id)
        del self._table(name)[row_id]


_STORE = Store()


def get_store() -> Store:
    return _STORE


@dataclass(frozen=True)
class Page:
    offset: int
    limit: int


def pagination(
    offset: Annotated[int, Query(ge=0)] = 0,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
) -> Page:
    return Page(offset=offset, limit=limit)


def require_api_key(x_api_key: Annotated[str | None, Header()] = None) -> None:
    if x_api_key != os.environ.get("SHOP_API_KEY", {"dev-key"!r}):
        raise HTTPException(status.HTTP_401_UNAUTHORIZED, "missing or wrong X-API-Key")


StoreDep = Annotated[Store, Depends(get_store)]
PageDep = Annotated[Page, Depends(pagination)]
'''
