"""Which installed distributions a slim function ships: its import graph, not everything.

The build recorded, per slim function, the third-party packages its handler imports
(``imports.json``: top-level import names with the chain that imported each). Here they
are mapped to the distributions of the target's installed dependency set through their
``RECORD`` files (import name → distribution), then to those distributions' requirements
(``Requires-Dist``, transitively), plus ``slim_include`` and minus ``slim_exclude``. Files
that no ``RECORD`` owns are shipped to every function, to be safe.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import cached_property
from importlib import metadata
from pathlib import Path
from typing import Any

from fastsplit.errors import Diagnostic
from fastsplit.generator import IMPORTS_FILE
from fastsplit.packager.requirements import canonical_name, requirement_closure


def read_imports(build: Path) -> dict[str, dict[str, Any]]:
    """Per slim function, what its handler imports (empty for builds without it)."""
    try:
        data = json.loads((build / IMPORTS_FILE).read_text("utf-8"))
    except (OSError, ValueError):
        return {}
    functions = data.get("functions", {}) if isinstance(data, dict) else {}
    return functions if isinstance(functions, dict) else {}


@dataclass(frozen=True)
class Selection:
    """The distributions one function ships, each with why (``imports numpy:
    handler → app.stats → numpy`` or ``required by pandas``)."""

    reasons: dict[str, str] = field(default_factory=dict)
    diagnostics: tuple[Diagnostic, ...] = ()

    @property
    def names(self) -> frozenset[str]:
        return frozenset(self.reasons)


class InstalledSet:
    """The distributions installed in one folder (``pip install --target``)."""

    def __init__(self, site: Path) -> None:
        self.site = site

    @cached_property
    def _distributions(self) -> dict[str, metadata.Distribution]:
        found: dict[str, metadata.Distribution] = {}
        for info in sorted(self.site.glob("*.dist-info")):
            dist = metadata.PathDistribution(info)
            name = dist.metadata["Name"] if dist.metadata else None
            found[canonical_name(name or info.name.split("-", 1)[0])] = dist
        return found

    @cached_property
    def owners(self) -> dict[str, str]:
        """Installed file (relative, POSIX) → the distribution that installed it."""
        owners = {}
        for name, dist in self._distributions.items():
            for file in dist.files or ():
                path = file.as_posix()
                if not path.startswith("../"):
                    owners[path] = name
        return owners

    @cached_property
    def _tops(self) -> dict[str, set[str]]:
        """Importable name (``numpy``, ``google.protobuf``) → distributions providing it."""
        tops: dict[str, set[str]] = {}
        for path, name in self.owners.items():
            parts = path.split("/")
            if parts[0].endswith((".dist-info", ".data")) or parts[0] == "__pycache__":
                continue
            for depth in (1, 2):
                if len(parts) < depth:
                    break
                module = ".".join([*parts[: depth - 1], parts[depth - 1].split(".", 1)[0]])
                tops.setdefault(module, set()).add(name)
        return tops

    def requires(self, name: str) -> tuple[str, ...] | None:
        dist = self._distributions.get(canonical_name(name))
        return None if dist is None else tuple(dist.requires or ())

    def providers(self, name: str) -> set[str]:
        """Distributions providing an import name, or the distribution of that name."""
        found = set(self._tops.get(name, ()))
        if not found and canonical_name(name) in self._distributions:
            found.add(canonical_name(name))
        return found

    def select(
        self,
        function: str,
        imports: dict[str, Any],
        *,
        runtime_provided: Iterable[str] = (),
    ) -> Selection:
        """What ``function`` ships, from its entry of ``imports.json``."""
        provided = set(runtime_provided)
        excluded = {canonical_name(name) for name in imports.get("exclude", [])}
        for name in imports.get("exclude", []):
            excluded |= self.providers(name)
        roots: dict[str, str] = {}
        diagnostics = []
        for package, chain in sorted(imports.get("packages", {}).items()):
            if package.split(".")[0] in provided or provided & set(chain):
                continue  # boto3 and what only it imports: the Lambda runtime has them
            dists = self.providers(package)
            if not dists:
                diagnostics.append(_missing(function, package, chain))
            for dist in sorted(dists - excluded):
                roots.setdefault(dist, f"imports {package}: {' → '.join(chain)}")
        for name in imports.get("include", []):
            dists = self.providers(name)
            if not dists:
                diagnostics.append(
                    Diagnostic(
                        "warning",
                        function,
                        f"slim_include {name!r} is neither an application module nor "
                        "installed in the dependency set; check the name",
                    )
                )
            for dist in sorted(dists - excluded):
                roots.setdefault(dist, "slim_include")

        def requires(name: str) -> tuple[str, ...] | None:
            return None if name in excluded else self.requires(name)

        closure = requirement_closure(roots, requires=requires)
        reasons = {
            name: roots.get(name) or f"required by {required_by}"
            for name, required_by in closure.items()
        }
        return Selection(dict(sorted(reasons.items())), tuple(diagnostics))


def _missing(function: str, package: str, chain: list[str]) -> Diagnostic:
    return Diagnostic(
        "warning",
        function,
        f"imports {package} ({' → '.join(chain)}), which no requirement installs for the "
        "target: the function will not have it (add it to the requirements, or to "
        "slim_exclude if it is only imported where it is optional)",
    )
