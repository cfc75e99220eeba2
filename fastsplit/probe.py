"""The build-time proof's other half: import slim handlers in fresh interpreters.

Run by :mod:`fastsplit.prove` as ``python -B -P probe.py`` with a JSON request on
stdin; writes each function's answer to the file the request names. Only the standard
library is imported before a handler, so the modules a handler's import adds to
``sys.modules`` are exactly its import closure, and an import hook records who imported
each of them (the chains ``fastsplit explain`` shows). Then the rebuilt app is described
with the same code that described the monolith (:mod:`fastsplit.recipe`).

One interpreter first imports what every slim handler starts with (the runtime module,
then ``fastapi``), exactly as a handler would, then forks one child per function: each
child is a fresh interpreter for the application's code, at a fraction of the cost of
starting Python and FastAPI again. Without ``os.fork`` each function gets its own process.
"""

from __future__ import annotations

import json
import os
import signal
import sys
import time
import traceback
from types import FrameType
from typing import Any

HANDLER = "handler"
# The lines every slim handler starts with, run under the handler's name so that the
# import hook records the handler as their importer.
PRELUDE = "import fastsplit_runtime\nimport fastapi\n"


class ImportRecorder:
    """A meta path finder that finds nothing: it notes, the first time each module is
    looked for, which module's code asked for it."""

    def __init__(self) -> None:
        self.importers: dict[str, str | None] = {}

    def find_spec(self, fullname: str, path: Any = None, target: Any = None) -> None:
        if fullname not in self.importers:
            self.importers[fullname] = _importer(sys._getframe(1))
        return None


def _importer(frame: FrameType | None) -> str | None:
    while frame is not None:
        name = frame.f_globals.get("__name__") or ""
        if not (
            name.startswith("importlib") or name.startswith("_frozen_importlib") or name == __name__
        ):
            return name
        frame = frame.f_back
    return None


def main() -> None:
    request = json.loads(sys.stdin.read())
    sys.path[:0] = [request["runtime_dir"], request["app_dir"]]
    before = set(sys.modules)
    recorder = ImportRecorder()
    sys.meta_path.insert(0, recorder)
    real_stdout = sys.stdout
    sys.stdout = sys.stderr  # the application may print while it is imported
    try:
        exec(compile(PRELUDE, "<slim handler prelude>", "exec"), {"__name__": HANDLER})
    except BaseException:
        for function in request["functions"]:
            _write(function["answer"], _failure("importing fastapi failed"))
        return
    finally:
        sys.stdout = real_stdout
    functions = request["functions"]
    if len(functions) == 1:
        (function,) = functions
        _write(function["answer"], _prove(function, request, recorder, before))
    else:  # fastsplit.prove sends one function per process where there is no fork
        _fork_each(functions, request, recorder, before)


def _fork_each(
    functions: list[dict[str, str]],
    request: dict[str, Any],
    recorder: ImportRecorder,
    before: set[str],
) -> None:
    """One child per function, ``jobs`` at a time; a child that hangs is killed."""
    pending = list(functions)
    running: dict[int, tuple[dict[str, str], float]] = {}
    timeout = request["timeout"]
    while pending or running:
        while pending and len(running) < request["jobs"]:
            function = pending.pop(0)
            pid = os.fork()
            if pid == 0:
                os.dup2(2, 1)  # the child's prints must not reach the parent's stdout
                try:
                    answer = _prove(function, request, recorder, before)
                except BaseException:
                    answer = _failure("the proof itself failed")
                _write(function["answer"], answer)
                os._exit(0)
            running[pid] = (function, time.monotonic())
        pid, status = os.waitpid(-1, os.WNOHANG)
        if pid == 0:
            now = time.monotonic()
            for child, (function, started) in list(running.items()):
                if now - started > timeout:
                    os.kill(child, signal.SIGKILL)
                    os.waitpid(child, 0)
                    del running[child]
                    message = f"importing the handler took over {timeout} s"
                    _write(function["answer"], {"error": message})
            time.sleep(0.01)
            continue
        function, _ = running.pop(pid)
        if not os.path.exists(function["answer"]):
            _write(function["answer"], {"error": f"the proof process died (status {status})"})


def _prove(
    function: dict[str, str], request: dict[str, Any], recorder: ImportRecorder, before: set[str]
) -> dict[str, Any]:
    sys.path[0] = function["dir"]
    real_stdout = sys.stdout
    sys.stdout = sys.stderr
    try:
        handler = __import__(HANDLER)
    except BaseException as exc:
        return _failure(f"importing the handler raised {type(exc).__name__}: {exc}")
    finally:
        sys.stdout = real_stdout
        sys.meta_path.remove(recorder)
    modules: list[dict[str, Any]] = []
    for name in sorted(set(sys.modules) - before):
        module = sys.modules[name]
        modules.append(
            {
                "name": name,
                "file": getattr(module, "__file__", None),
                "path": [str(p) for p in getattr(module, "__path__", None) or []],
                "importer": recorder.importers.get(name),
            }
        )
    # From here on, imports no longer count: describe the rebuilt app.
    sys.path.insert(0, request["fastsplit_root"])
    try:
        from fastsplit.fingerprint import module_state
        from fastsplit.recipe import fingerprint
        from fastsplit.sources import is_first_party_file

        app_dir = os.path.realpath(request["app_dir"])
        state = {
            m["name"]: module_state(sys.modules[m["name"]])
            for m in modules
            if m["file"] and m["name"] != HANDLER and is_first_party_file(m["file"], app_dir)
        }
        answer = fingerprint(
            handler.app, app_module=request["app_module"], app_dir=request["app_dir"]
        )
    except BaseException:
        return _failure("describing the rebuilt app failed")
    answer["modules"] = modules
    answer["state"] = state
    return answer


def _failure(message: str) -> dict[str, Any]:
    lines = traceback.format_exc().strip().splitlines()
    return {"error": " ".join(message.split()), "traceback": lines[-12:]}


def _write(path: str, answer: dict[str, Any]) -> None:
    with open(path + ".tmp", "w", encoding="utf-8") as file:
        json.dump(answer, file)
    os.replace(path + ".tmp", path)


if __name__ == "__main__":
    main()
