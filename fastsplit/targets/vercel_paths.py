"""FastAPI paths as Vercel route regexes (vercel.json ``routes`` ``src``).

Vercel matches ``src`` with PCRE in its proxy and with JavaScript in its CLI: a route's
regex must read the same in both. Each route keeps its own Starlette pattern: literal
text escaped, every parameter the regex of its convertor as compiled by the monolith
(``{id:int}`` → ``[0-9]+``), groups made non-capturing. What cannot be written that way
is reported with the reason, never written half right.
"""

from __future__ import annotations

import re

from fastsplit.model import Route

MAX_SOURCE = 4096
"""A route's ``src`` is at most 4096 characters (@vercel/routing-utils schema)."""
RESERVED_PREFIX = "/_vercel"
_PARAM = re.compile(r"\{([a-zA-Z_][a-zA-Z0-9_]*)(?::([a-zA-Z_][a-zA-Z0-9_]*))?\}")
_UNRESERVED = re.compile(r"[A-Za-z0-9\-._~/]")


def route_source(route: Route) -> tuple[str | None, str]:
    """The route's vercel.json ``src`` regex, or None and the reason Vercel cannot route it.

    Literal characters that a client may percent-encode match both ways (``é`` or
    ``%C3%A9``): whether Vercel matches the raw or the decoded path, the route matches.
    Parameters keep the regex of their Starlette convertor (``{id:int}`` → ``[0-9]+``).
    """
    if route.path == RESERVED_PREFIX or route.path.startswith(RESERVED_PREFIX + "/"):
        return None, (
            f"Vercel reserves {RESERVED_PREFIX}/ for its own endpoints, so a route there "
            "never reaches a function"
        )
    pattern = route.path.rstrip("/") + "/{path:path}" if route.kind == "mount" else route.path
    parts = ["^"]
    position = 0
    for match in _PARAM.finditer(pattern):
        parts.append(_literal(pattern[position : match.start()]))
        name, convertor = match.group(1), match.group(2) or "str"
        regex = _group(route.path_regex, name)
        portable = portable_regex(regex) if regex is not None else None
        if portable is None:
            return None, (
                f"the pattern of path convertor {convertor!r} ({regex}) uses regex syntax "
                "that Vercel's routing (PCRE and JavaScript) does not read the same way"
            )
        parts.append(portable)
        position = match.end()
    parts.append(_literal(pattern[position:]))
    parts.append("$")
    source = "".join(parts)
    if len(source) > MAX_SOURCE:
        return None, f"its routing regex is longer than the {MAX_SOURCE} characters Vercel allows"
    return source, ""


def _literal(text: str) -> str:
    out = []
    for char in text:
        if _UNRESERVED.fullmatch(char):
            out.append("\\." if char == "." else char)
            continue
        escaped = "\\" + char if char in "\\^$.|?*+()[]{}" else char
        encoded = "".join(
            "%" + "".join(f"[{h}{h.lower()}]" if h.isalpha() else h for h in f"{byte:02X}")
            for byte in char.encode("utf-8")
        )
        out.append(f"(?:{escaped}|{encoded})")
    return "".join(out)


def _group(path_regex: str, name: str) -> str | None:
    """The regex of the named group ``name`` in Starlette's compiled path pattern."""
    start = path_regex.find(f"(?P<{name}>")
    if start < 0:
        return None
    index = start + len(f"(?P<{name}>")
    depth, in_class = 1, False
    body_start = index
    while index < len(path_regex):
        char = path_regex[index]
        if char == "\\":
            index += 2
            continue
        if in_class:
            in_class = char != "]"
        elif char == "[":
            in_class = True
            if path_regex[index + 1 : index + 2] == "]":
                index += 1
        elif char == "(":
            depth += 1
        elif char == ")":
            depth -= 1
            if depth == 0:
                return path_regex[body_start:index]
        index += 1
    return None


_QUANTIFIER = re.compile(r"\{\d+(,\d*)?\}")


def portable_regex(regex: str) -> str | None:
    """``regex`` in the syntax that PCRE and JavaScript read the same way, groups made
    non-capturing; None when it uses anything else (lookarounds, backreferences, inline
    flags, anchors, possessive quantifiers...)."""
    out: list[str] = []
    index = 0
    after_quantifier = False
    while index < len(regex):
        char = regex[index]
        quantifier = _QUANTIFIER.match(regex, index) if char == "{" else None
        if char == "\\":
            escape = regex[index : index + 2]
            if len(escape) < 2 or (escape[1].isalnum() and escape[1] not in "dDwWsS"):
                return None
            out.append(escape)
            index += 2
        elif char == "[":
            end = _class_end(regex, index)
            if end is None:
                return None
            out.append(regex[index:end])
            index = end
        elif char == "(":
            if regex.startswith("(?:", index):
                index += 3
            elif regex.startswith("(?", index):
                return None
            else:
                index += 1
            out.append("(?:")
        elif char in "*+?" or quantifier is not None:
            if after_quantifier and char != "?":
                return None  # a possessive quantifier (PCRE only) or a repeated one
            if after_quantifier:  # lazy
                out.append(char)
                index += 1
                after_quantifier = False
                continue
            text = quantifier.group(0) if quantifier is not None else char
            out.append(text)
            index += len(text)
            after_quantifier = True
            continue
        elif char in "^${}":
            return None
        else:
            out.append(char)
            index += 1
        after_quantifier = False
    return "".join(out)


def _class_end(regex: str, start: int) -> int | None:
    """Index just after the character class starting at ``start``; None if unsupported."""
    index = start + 1
    if regex[index : index + 1] == "^":
        index += 1
    if regex[index : index + 1] == "]":
        index += 1
    while index < len(regex):
        char = regex[index]
        if char == "\\":
            escape = regex[index : index + 2]
            if len(escape) < 2 or (escape[1].isalnum() and escape[1] not in "dDwWsS"):
                return None
            index += 2
        elif char == "[":
            return None  # POSIX classes and nested sets differ between engines
        elif char == "]":
            return index + 1
        else:
            index += 1
    return None
