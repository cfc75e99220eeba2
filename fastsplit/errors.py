"""Errors and diagnostics.

Library code never prints or exits: a problem with one route is a :class:`Diagnostic`
(collected, shown at the end), a problem that stops the run is a :class:`FastsplitError`
whose message is one line saying what is wrong and how to fix it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Level = Literal["error", "warning", "info"]


@dataclass(frozen=True, order=True)
class Diagnostic:
    """One finding about the app or the build: ``where`` names the route or setting."""

    level: Level
    where: str
    message: str

    def __str__(self) -> str:
        return f"{self.level}: {self.where}: {self.message}" if self.where else self.message


class FastsplitError(Exception):
    """A user-facing failure; ``str(error)`` is the single line the CLI prints."""


class AppImportError(FastsplitError):
    """The app could not be imported or is not an ASGI app fastsplit understands."""


class ConfigError(FastsplitError):
    """A setting (flag, pyproject or ``x-fastsplit``) is invalid."""


class BuildError(FastsplitError):
    """The build could not be written (or stopped on error diagnostics)."""

    def __init__(self, message: str, diagnostics: tuple[Diagnostic, ...] = ()) -> None:
        super().__init__(message)
        self.diagnostics = diagnostics
