"""Function names: stable, unique, and valid everywhere a function is named.

A name must work as a Python package/folder name, inside a Lambda function name
(``{service}-{stage}-{name}``, at most 64 characters) and, converted to PascalCase, as a
CloudFormation logical id (letters and digits only). Names depend only on the route
(method and path), never on dispatch position, so adding a route does not rename others.
"""

from __future__ import annotations

import hashlib
import keyword
import re

from fastsplit.model import Route

LAMBDA_NAME_MAX = 64
_NON_WORD = re.compile(r"[^a-z0-9]+")
_PARAM = re.compile(r"\{([^}:]+)(?::[^}]*)?\}")


def default_name(route: Route) -> str:
    """``GET /users/{user_id:int}`` → ``get_users_user_id``; a two-method route joins both."""
    if route.kind == "mount":
        verb = "mount"
    else:
        # Starlette adds HEAD to every GET route: it adds nothing to the name.
        methods = [m for m in route.methods if not (m == "HEAD" and "GET" in route.methods)]
        verb = "_".join(method.lower() for method in methods) or "any"
    path = _PARAM.sub(r"\1", route.path)
    words = _NON_WORD.sub("_", path.lower()).strip("_")
    return safe_identifier(f"{verb}_{words or 'root'}")


def safe_identifier(text: str) -> str:
    """Lowercase ASCII identifier: not a keyword, not starting with a digit."""
    name = _NON_WORD.sub("_", text.lower()).strip("_") or "fn"
    if name[0].isdigit() or keyword.iskeyword(name):
        name = f"fn_{name}"
    return name


def logical_id(name: str) -> str:
    """``get_users_user_id`` → ``GetUsersUserIdFunction`` (CloudFormation: alphanumeric)."""
    return "".join(part[:1].upper() + part[1:] for part in name.split("_") if part) + "Function"


def max_name_length(service: str, stage: str) -> int:
    """Room left for the function name in ``{service}-{stage}-{name}``."""
    return LAMBDA_NAME_MAX - len(service) - len(stage) - 2


def shorten(name: str, limit: int) -> str:
    """Cut a long name to ``limit`` characters, keeping it unique with a short hash."""
    if len(name) <= limit:
        return name
    digest = hashlib.sha256(name.encode()).hexdigest()[:6]
    head = name[: max(limit - len(digest) - 1, 1)].rstrip("_")
    return f"{head}_{digest}"
