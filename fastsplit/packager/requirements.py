"""Distribution names and requirement closures (``Requires-Dist``), without a resolver.

Used on an environment that is already installed (the build's, or the cached dependency
set of the target): pip has resolved it, so a requirement counts when its distribution is
installed there. Requirements behind an extra (``; extra == "email"``) are left out: an
extra that a function needs shows in what its handler imports.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable

_NAME = re.compile(r"^\s*([A-Za-z0-9][A-Za-z0-9._-]*)")
_EXTRA = re.compile(r"\bextra\b")


def canonical_name(name: str) -> str:
    """PEP 503: ``Typing_Extensions`` and ``typing.extensions`` are ``typing-extensions``."""
    return re.sub(r"[-_.]+", "-", name).lower()


def requirement_name(line: str) -> str | None:
    """The distribution a ``Requires-Dist`` line always needs (None behind an extra)."""
    requirement, _, marker = line.partition(";")
    if _EXTRA.search(marker):
        return None
    match = _NAME.match(requirement)
    return canonical_name(match.group(1)) if match else None


def requirement_closure(
    roots: Iterable[str], *, requires: Callable[[str], Iterable[str] | None]
) -> dict[str, str | None]:
    """``roots`` and what they require, transitively: name → the distribution that
    requires it (None for a root). ``requires(name)`` gives a distribution's
    ``Requires-Dist`` lines, or None when it is not installed (then it is left out)."""
    found: dict[str, str | None] = {}
    queue: list[str] = []
    for root in roots:
        name = canonical_name(root)
        if name not in found and requires(name) is not None:
            found[name] = None
            queue.append(name)
    while queue:
        name = queue.pop(0)
        for line in requires(name) or ():
            dependency = requirement_name(line)
            if dependency and dependency not in found and requires(dependency) is not None:
                found[dependency] = name
                queue.append(dependency)
    return found
