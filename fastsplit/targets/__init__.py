"""Deploy targets: each renders deploy configuration for a build plan.

A target is an object with a ``name`` and ``render(plan)``, which returns the files it
writes: ``(path, text)`` pairs or :class:`~fastsplit.model.OutputFile` (which can also
copy the app's own files); it may also have ``diagnostics(plan)``, the routes or settings
it cannot express. Adding a target is a new module plus one line in :data:`PLATFORMS`
(as Mangum lists its handlers).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from fastsplit.model import BuildPlan, OutputFile
from fastsplit.targets.sam import SamTarget
from fastsplit.targets.serverless import ServerlessTarget
from fastsplit.targets.vercel import VercelTarget


class Target(Protocol):
    name: str

    def render(self, plan: BuildPlan) -> Sequence[tuple[str, str] | OutputFile]: ...


PLATFORMS: dict[str, tuple[Target, ...]] = {
    "lambda": (ServerlessTarget(), SamTarget()),
    "vercel": (VercelTarget(),),
}
"""The targets of each platform ``fastsplit build --target`` can choose."""

TARGETS: tuple[Target, ...] = tuple(t for targets in PLATFORMS.values() for t in targets)

__all__ = ["PLATFORMS", "TARGETS", "Target"]
