"""Python source for recorded values: imports and calls laid out as ``ruff format`` does.

Every literal goes through :func:`fastsplit.templating.py_literal` (``repr``), every name
comes from an import this module writes: no user text is pasted into code. A value that
fits on its line is written on one line; otherwise its brackets are opened with one item
per line and a trailing comma (which ``ruff format`` keeps as it is), recursively.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from fastsplit.model import Call, Const, Dict, Expr, Ref, Seq
from fastsplit.templating import py_literal

WIDTH = 100
INDENT = "    "
_OPEN_CLOSE = {"list": ("[", "]"), "tuple": ("(", ")"), "set": ("{", "}")}


@dataclass(frozen=True)
class Import:
    """``from module import name`` (``as alias`` when the name is taken)."""

    module: str
    name: str
    alias: str | None = None

    @property
    def local(self) -> str:
        return self.alias or self.name


class Names:
    """Local names for the references of one generated file, clashes resolved."""

    def __init__(self, refs: Iterable[Ref], *, reserved: Iterable[str] = ()) -> None:
        self._local: dict[tuple[str, str], str] = {}
        self.imports: list[Import] = []
        used = set(reserved)
        heads = sorted({(ref.module, ref.qualname.split(".", 1)[0]) for ref in refs})
        for module, head in heads:
            if module == "builtins":  # no import needed
                self._local[(module, head)] = head
                used.add(head)
        for module, head in heads:
            if module == "builtins":
                continue
            local = head
            if local in used:
                base = local = f"{module.rsplit('.', 1)[-1]}_{head}"
                number = 1
                while local in used:
                    number += 1
                    local = f"{base}_{number}"
            used.add(local)
            self._local[(module, head)] = local
            self.imports.append(Import(module, head, None if local == head else local))

    def __getitem__(self, ref: Ref) -> str:
        if not ref.module:  # a name the generated file defines itself (app.add_api_route)
            return ref.qualname
        head, _, rest = ref.qualname.partition(".")
        local = self._local[(ref.module, head)]
        return f"{local}.{rest}" if rest else local


def refs_in(values: Iterable[Expr]) -> Iterator[Ref]:
    """Every reference inside the given values."""
    for value in values:
        if isinstance(value, Ref):
            yield value
        elif isinstance(value, Seq):
            yield from refs_in(value.items)
        elif isinstance(value, Dict):
            for key, item in value.items:
                yield from refs_in((key, item))
        elif isinstance(value, Call):
            yield value.func
            yield from refs_in(value.args)
            yield from refs_in(item for _, item in value.kwargs)


def inline(value: Expr, names: Names | None = None) -> str:
    """The value on one line. Without ``names``, references read ``module:qualname``."""
    if isinstance(value, Const):
        return py_literal(value.value)
    if isinstance(value, Ref):
        return names[value] if names is not None else str(value)
    if isinstance(value, Seq):
        items = [inline(item, names) for item in value.items]
        if value.kind in ("set", "frozenset") and not items:
            return f"{value.kind}()"
        if value.kind == "frozenset":
            return f"frozenset({{{', '.join(items)}}})"
        start, end = _OPEN_CLOSE[value.kind]
        if value.kind == "tuple" and len(items) == 1:
            return f"({items[0]},)"
        return f"{start}{', '.join(items)}{end}"
    if isinstance(value, Dict):
        pairs = [f"{inline(k, names)}: {inline(v, names)}" for k, v in value.items]
        return "{" + ", ".join(pairs) + "}"
    arguments = [inline(arg, names) for arg in value.args]
    arguments += [f"{key}={inline(arg, names)}" for key, arg in value.kwargs]
    return f"{inline(value.func, names)}({', '.join(arguments)})"


def statement(prefix: str, value: Expr, names: Names, *, depth: int = 0) -> list[str]:
    """``prefix + value`` as lines at ``depth`` indentation, split where too long."""
    return _lines(prefix, value, "", names, depth)


def _lines(prefix: str, value: Expr, suffix: str, names: Names, depth: int) -> list[str]:
    indent = INDENT * depth
    one_line = f"{indent}{prefix}{inline(value, names)}{suffix}"
    if len(one_line) <= WIDTH or not _splittable(value):
        return [one_line]
    opening, items, closing = _parts(value, names)
    lines = [f"{indent}{prefix}{opening}"]
    for item_prefix, item in items:
        if item is None:
            lines.append(f"{INDENT * (depth + 1)}{item_prefix},")
        else:
            lines.extend(_lines(item_prefix, item, ",", names, depth + 1))
    lines.append(f"{indent}{closing}{suffix}")
    return lines


def _splittable(value: Expr) -> bool:
    if isinstance(value, Seq | Dict):
        return bool(value.items)
    return isinstance(value, Call) and bool(value.args or value.kwargs)


def _parts(value: Expr, names: Names) -> tuple[str, list[tuple[str, Expr | None]], str]:
    """Opening text, ``(prefix, item)`` pairs (an item None: the prefix is the whole
    item) and closing text of a bracketed value."""
    if isinstance(value, Call):
        items: list[tuple[str, Expr | None]] = [("", arg) for arg in value.args]
        items += [(f"{key}=", arg) for key, arg in value.kwargs]
        return f"{inline(value.func, names)}(", items, ")"
    if isinstance(value, Dict):
        pairs: list[tuple[str, Expr | None]] = [
            (f"{inline(k, names)}: ", v) for k, v in value.items
        ]
        return "{", pairs, "}"
    assert isinstance(value, Seq)
    elements: list[tuple[str, Expr | None]] = [("", item) for item in value.items]
    if value.kind == "frozenset":
        return "frozenset({", elements, "})"
    start, end = _OPEN_CLOSE[value.kind]
    return start, elements, end


def import_lines(imports: Iterable[Import], *, suffix: str = "") -> list[str]:
    """``from module import a, b as c`` lines, one per module in the given order,
    parenthesised one name per line when too long; ``suffix`` (a comment) ends the
    first line of each."""
    by_module: dict[str, list[Import]] = {}
    for item in imports:
        by_module.setdefault(item.module, []).append(item)
    lines: list[str] = []
    for module, items in by_module.items():
        names = [
            f"{item.name} as {item.alias}" if item.alias else item.name
            for item in sorted(items, key=lambda i: (i.name, i.alias or ""))
        ]
        line = f"from {module} import {', '.join(names)}{suffix}"
        if len(line) <= WIDTH:
            lines.append(line)
        else:
            lines.append(f"from {module} import ({suffix}")
            lines.extend(f"{INDENT}{name}," for name in names)
            lines.append(")")
    return lines
