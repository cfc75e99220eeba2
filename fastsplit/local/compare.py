"""Compare the monolith's answer with the split's: what must match, what may differ.

Compared: the status, the body (JSON as data: FastAPI orders some keys by set
iteration, which changes with the hash seed), the cookies, and every header except the
transport ones (``date``, ``server``, ``content-length``, ``connection``, ...). ``Allow``
is compared as a set of methods. Two differences are *known*: reported, not failures
(``--strict`` makes them fail):

* an answer without ``Content-Type`` gets ``application/json`` on the split: Mangum
  labels every payload 2.0 response, and that is what API Gateway then sends;
* with artifacts (``--from dist``), static files' ``ETag`` and ``Last-Modified``: a
  deterministic zip gives every file the same fixed time, on Lambda too.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

IGNORED_HEADERS = frozenset(
    {
        "date",
        "server",
        "content-length",
        "connection",
        "keep-alive",
        "transfer-encoding",
        "apigw-requestid",
        "x-amzn-requestid",
        "x-amzn-trace-id",
    }
)
MANGUM_CONTENT_TYPE = "application/json"


@dataclass(frozen=True)
class Answer:
    """An HTTP answer reduced to what is compared."""

    status: int
    headers: tuple[tuple[str, str], ...]
    """Lower-case names in order, ``set-cookie`` excluded (see ``cookies``)."""
    cookies: tuple[str, ...]
    body: bytes

    @classmethod
    def from_items(cls, status: int, items: list[tuple[str, str]], body: bytes) -> Answer:
        headers = tuple((k.lower(), v) for k, v in items if k.lower() != "set-cookie")
        cookies = tuple(v for k, v in items if k.lower() == "set-cookie")
        return cls(status, headers, cookies, body)

    def header_map(self) -> dict[str, str]:
        joined: dict[str, list[str]] = {}
        for name, value in self.headers:
            if name not in IGNORED_HEADERS:
                joined.setdefault(name, []).append(value)
        return {name: ", ".join(values) for name, values in joined.items()}


@dataclass(frozen=True)
class Difference:
    """One thing that differs: ``what`` is ``status``, ``body``, ``set-cookie`` or
    ``header NAME``; values are shown as text (``-`` for absent)."""

    what: str
    monolith: str
    split: str
    reason: str = ""
    """For a known difference: why it is expected."""


def compare(
    monolith: Answer, split: Answer, *, artifacts: bool = False
) -> tuple[list[Difference], list[Difference]]:
    """``(differences, known differences)`` between the two answers."""
    differences: list[Difference] = []
    known: list[Difference] = []
    if monolith.status != split.status:
        differences.append(Difference("status", str(monolith.status), str(split.status)))
    expected, got = monolith.header_map(), split.header_map()
    for name in sorted(set(expected) | set(got)):
        want, have = expected.get(name), got.get(name)
        if _header_value(name, want) == _header_value(name, have):
            continue
        difference = Difference(f"header {name}", want or "-", have or "-")
        reason = _known_reason(name, want, have, artifacts=artifacts)
        if reason:
            known.append(Difference(difference.what, difference.monolith, difference.split, reason))
        else:
            differences.append(difference)
    if monolith.cookies != split.cookies:
        differences.append(
            Difference(
                "set-cookie", " | ".join(monolith.cookies) or "-", " | ".join(split.cookies) or "-"
            )
        )
    want_body, have_body = _body(monolith), _body(split)
    if want_body != have_body:
        differences.append(_body_difference(want_body, have_body))
    return differences, known


def _body_difference(want: Any, have: Any) -> Difference:
    """Where two bodies part: the first differing JSON path, or the text around it."""
    if isinstance(want, bytes) or isinstance(have, bytes):
        a = want if isinstance(want, bytes) else json.dumps(want).encode()
        b = have if isinstance(have, bytes) else json.dumps(have).encode()
        start = next((i for i, (x, y) in enumerate(zip(a, b, strict=False)) if x != y), None)
        start = min(len(a), len(b)) if start is None else start
        start = max(0, start - 40)
        prefix = "…" if start else ""
        return Difference("body", prefix + _show(a[start:]), prefix + _show(b[start:]))
    path, a_value, b_value = _first_json_difference(want, have, "")
    shown_a, shown_b = (
        _show(json.dumps(v, ensure_ascii=False).encode()) for v in (a_value, b_value)
    )
    return Difference(f"body{path}" if path else "body", shown_a, shown_b)


def _first_json_difference(a: Any, b: Any, path: str) -> tuple[str, Any, Any]:
    if isinstance(a, dict) and isinstance(b, dict):
        for key in sorted(set(a) | set(b), key=str):
            if key not in a or key not in b:
                return f"{path}.{key}", a.get(key, "(absent)"), b.get(key, "(absent)")
            if a[key] != b[key]:
                return _first_json_difference(a[key], b[key], f"{path}.{key}")
    if isinstance(a, list) and isinstance(b, list) and len(a) == len(b):
        for index, (x, y) in enumerate(zip(a, b, strict=True)):
            if x != y:
                return _first_json_difference(x, y, f"{path}[{index}]")
    return path, a, b


def _known_reason(name: str, want: str | None, have: str | None, *, artifacts: bool) -> str:
    if name == "content-type" and want is None and have == MANGUM_CONTENT_TYPE:
        return "Mangum labels an answer without Content-Type as JSON (so does Lambda)"
    if artifacts and name in ("etag", "last-modified") and want and have:
        return "files in a deterministic artifact carry a fixed time (SOURCE_DATE_EPOCH)"
    return ""


def _header_value(name: str, value: str | None) -> Any:
    if value is None:
        return None
    parts = [part.strip() for part in value.split(",")]
    # Starlette joins a set of methods: the order depends on the hash seed.
    return sorted(parts) if name in ("allow", "access-control-allow-methods") else parts


def _body(answer: Answer) -> Any:
    content_type = answer.header_map().get("content-type", "")
    if answer.body and "json" in content_type:
        try:
            return json.loads(answer.body)
        except ValueError:
            pass
    return answer.body


def _show(body: bytes, limit: int = 160) -> str:
    if not body:
        return "(empty)"
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        return f"({len(body)} bytes of binary data)"
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"
