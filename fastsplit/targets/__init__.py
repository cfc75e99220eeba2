"""Deploy targets: each renders deploy configuration for a build plan.

A target is an object with a ``name`` and ``render(plan) -> [(path, text)]``; adding a
target is a new module plus one line in :data:`TARGETS` (as Mangum lists its handlers).
"""

from __future__ import annotations

from typing import Protocol

from fastsplit.model import BuildPlan
from fastsplit.targets.sam import SamTarget
from fastsplit.targets.serverless import ServerlessTarget


class Target(Protocol):
    name: str

    def render(self, plan: BuildPlan) -> list[tuple[str, str]]: ...


TARGETS: tuple[Target, ...] = (ServerlessTarget(), SamTarget())

__all__ = ["TARGETS", "Target"]
