"""``fastsplit explain``: why each module and distribution is in a function.

Reads a build (``manifest.json`` and ``imports.json``, which the build-time proof wrote)
and answers with the import chain that pulled each application module and third-party
package in, and for distributions that nothing imports directly, which distribution
requires them.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from fastsplit.errors import FastsplitError
from fastsplit.generator import IMPORTS_FILE
from fastsplit.packager.requirements import canonical_name

ARROW = " → "


def explain(build: Path, function: str, *, what: str | None = None) -> list[str]:
    """Lines saying why everything (or only ``what``) is in ``function``."""
    entry, imports = _load(build, function)
    routes = "; ".join(
        f"{','.join(r['methods']) or 'ANY'} {r['path']} -> {r['endpoint']}" for r in entry["routes"]
    )
    head = f"{function} ({entry.get('mode', 'full')}): {routes or entry.get('description', '')}"
    if entry.get("mode") != "slim" or imports is None:
        return [head, *_not_slim(entry)]
    modules: dict[str, list[str]] = imports.get("modules", {})
    packages: dict[str, list[str]] = imports.get("packages", {})
    distributions: dict[str, dict[str, Any]] = imports.get("distributions", {})
    if what is not None:
        found = _why(
            function, what, modules=modules, packages=packages, distributions=distributions
        )
        return [found]
    lines = [head, "", "Application modules (the function carries their files):"]
    width = max((len(name) for name in modules), default=0)
    lines += [f"  {name:<{width}}  {ARROW.join(chain)}" for name, chain in modules.items()]
    lines += ["", "Distributions (in the build environment; `package` ships them for the target):"]
    labels = {
        name: f"{name} {info.get('version', '')}".strip() for name, info in distributions.items()
    }
    width = max((len(label) for label in labels.values()), default=0)
    for name, info in distributions.items():
        lines.append(f"  {labels[name]:<{width}}  {_reason(info, packages)}")
    if imports.get("include") or imports.get("exclude"):
        lines += [
            "",
            f"slim_include: {imports.get('include', [])}; slim_exclude: "
            f"{imports.get('exclude', [])}",
        ]
    return lines


def _why(
    function: str,
    what: str,
    *,
    modules: dict[str, list[str]],
    packages: dict[str, list[str]],
    distributions: dict[str, dict[str, Any]],
) -> str:
    if what in modules:
        return f"{what} is in {function}: {ARROW.join(modules[what])}"
    if what in packages:
        return f"{what} is in {function}: {ARROW.join(packages[what])}"
    name = canonical_name(what)
    info = distributions.get(name)
    if info is None:
        raise FastsplitError(
            f"{what!r} is not in function {function}: its handler does not import it "
            "(run `fastsplit explain` without a name to list what it imports)"
        )
    reason = _reason(info, packages)
    # A distribution only required: say how its requirer came in, back to an import.
    seen = {name}
    requirer = info.get("required_by")
    while requirer and requirer not in seen:
        seen.add(requirer)
        found = distributions.get(requirer, {})
        reason += f"; {requirer}: {_reason(found, packages)}"
        requirer = found.get("required_by")
    return f"{name} {info.get('version', '')} is in {function}: {reason}".replace("  ", " ")


def _reason(info: dict[str, Any], packages: dict[str, list[str]]) -> str:
    imported = info.get("packages") or []
    if not imported:
        return f"required by {info.get('required_by', '?')}"
    # Portions of a namespace package (opentelemetry.trace, opentelemetry.metrics...):
    # the shortest chain says enough.
    first = min(imported, key=lambda package: (len(packages.get(package, ())), package))
    more = f" (and {len(imported) - 1} more of its packages)" if len(imported) > 1 else ""
    return f"imports {first}{more}: {ARROW.join(packages.get(first, [first]))}"


def _not_slim(entry: dict[str, Any]) -> list[str]:
    fallback = entry.get("kind") == "fallback"
    if fallback and entry.get("mode") == "standalone":
        return ["It imports no application code (the route table is in its handler)."]
    lines = ["It imports the whole app and ships every file of it and every dependency."]
    if fallback:
        lines.append(
            "Why: the app's middleware or 404/405 handlers shape what requests no route takes get."
        )
    if entry.get("not_slim"):
        lines.append(f"Not slim because {entry['not_slim']}")
    return lines


def _load(build: Path, function: str) -> tuple[dict[str, Any], dict[str, Any] | None]:
    try:
        manifest = json.loads((build / "manifest.json").read_text("utf-8"))
    except (OSError, ValueError):
        raise FastsplitError(
            f"no fastsplit build in {build}; run `fastsplit build APP --out {build}` first"
        ) from None
    entries = {f["name"]: f for f in manifest.get("functions", [])}
    if function not in entries:
        known = ", ".join(sorted(entries))
        raise FastsplitError(f"no function {function!r} in {build}; the functions are: {known}")
    try:
        imports = json.loads((build / IMPORTS_FILE).read_text("utf-8"))
    except (OSError, ValueError):
        imports = {}
    found: dict[str, Any] | None = imports.get("functions", {}).get(function)
    return entries[function], found
