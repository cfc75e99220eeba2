"""The Jinja2 environment: strict, and with filters that render values safely.

Templates never paste a raw user string into code: ``py`` renders a Python literal
(``repr``), ``pystr`` escapes text for the inside of a docstring, ``pytuple`` renders a
tuple of strings (or ``None``).
"""

from __future__ import annotations

from collections.abc import Iterable
from functools import cache
from pathlib import Path
from typing import Any

import jinja2


def templates_dir() -> Path:
    """Inside the wheel the templates are ``fastsplit/templates``; in a checkout they are
    the repository's top-level ``templates/`` folder."""
    package_dir = Path(__file__).resolve().parent
    for candidate in (package_dir / "templates", package_dir.parent / "templates"):
        if candidate.is_dir():
            return candidate
    raise FileNotFoundError("fastsplit templates are missing from this installation")


def py_literal(value: Any) -> str:
    """A Python literal as ``ruff format`` writes it: double quotes unless the text
    contains a double quote (``repr`` escapes everything else)."""
    if isinstance(value, str):
        text = repr(value)
        if text.startswith("'") and '"' not in value:
            return f'"{text[1:-1]}"'
        return text
    if isinstance(value, tuple):
        items = ", ".join(py_literal(item) for item in value)
        return f"({items},)" if len(value) == 1 else f"({items})"
    if isinstance(value, list):
        return "[" + ", ".join(py_literal(item) for item in value) + "]"
    return repr(value)


def py_docstring_text(value: Any) -> str:
    """Text safe inside a triple-quoted docstring: no backslash escapes, quotes or
    control characters can end it early or change its meaning."""
    out = []
    for char in str(value):
        if char == "\\":
            out.append("\\\\")
        elif char == '"':
            out.append('\\"')
        elif not char.isprintable():
            out.append(char.encode("unicode_escape").decode("ascii"))
        else:
            out.append(char)
    return "".join(out)


def py_tuple(values: Iterable[str] | None) -> str:
    if values is None:
        return "None"
    return py_literal(tuple(values))


@cache
def environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(templates_dir())),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
        autoescape=False,
    )
    env.filters["py"] = py_literal
    env.filters["pystr"] = py_docstring_text
    env.filters["pytuple"] = py_tuple
    return env


def render(template: str, **context: Any) -> str:
    return environment().get_template(template).render(**context)
