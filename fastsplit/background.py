"""Work out a JSON value in a forked copy of this process while this one goes on.

Describing a big app is one core's work: its OpenAPI schema (a second of pydantic's schema
generation for a thousand routes) does not depend on the rest, so a forked child makes it
on the other core while the parser walks the routes. The child shares the app's objects
(copy on write) and sends its JSON back through a temporary file.

Fork is only safe with one thread (a lock another thread holds stays locked in the child)
and on Linux (macOS system libraries do not survive a fork without exec); anywhere else,
and whenever the child does not deliver, the work runs here, when its result is asked for.
"""

from __future__ import annotations

import gc
import json
import os
import signal
import sys
import tempfile
import threading
from collections.abc import Callable
from typing import Any

# Exit status of a child whose work ran (its JSON is in the file).
DELIVERED = 0


class Background:
    """``work()`` running in a forked child; :meth:`result` waits for its value.
    ``fork=False``: not worth a process (small work), it runs when asked for."""

    def __init__(self, work: Callable[[], Any], *, fork: bool = True) -> None:
        self._work = work
        self._pid = 0
        self._file: Any = None
        if fork and _can_fork():
            self._file = tempfile.TemporaryFile()  # noqa: SIM115 (closed by result/cancel)
            self._pid = os.fork()
            if self._pid == 0:
                self._child()

    def _child(self) -> None:
        status = 1
        try:
            # Nothing the child prints may reach the parent's stdout (`--json` output).
            os.dup2(2, 1)
            sys.stdout = sys.stderr
            # A collection would write to every object of the parent and copy its pages.
            gc.freeze()
            self._file.write(json.dumps(self._work()).encode("utf-8"))
            self._file.flush()
            status = DELIVERED
        finally:
            os._exit(status)

    def result(self) -> Any:
        """The work's value: the child's, or (without one) worked out now."""
        if self._pid:
            pid, self._pid = self._pid, 0
            _, status = os.waitpid(pid, 0)
            with self._file:
                if os.waitstatus_to_exitcode(status) == DELIVERED:
                    self._file.seek(0)
                    return json.loads(self._file.read())
        return self._work()

    def cancel(self) -> None:
        """Stop the child: its value is not wanted."""
        if self._pid:
            pid, self._pid = self._pid, 0
            try:
                os.kill(pid, signal.SIGKILL)
            finally:
                os.waitpid(pid, 0)
                self._file.close()


def _can_fork() -> bool:
    return sys.platform == "linux" and hasattr(os, "fork") and threading.active_count() == 1
