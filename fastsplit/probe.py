"""The build-time proof's other half: import slim handlers in fresh interpreters.

Run by :mod:`fastsplit.prove` as ``python -B -P probe.py RUNTIME_DIR APP_DIR`` with a
JSON request on stdin; appends each function's answer to the answers log the request
names (:func:`record`: one file for all, read as it grows). Only
the standard library is imported before a handler, so the modules a handler's import adds to
``sys.modules`` are exactly its import closure, and an import hook records who imported
each of them (the chains ``fastsplit explain`` shows). Then the rebuilt app is described
with the same code that described the monolith (:mod:`fastsplit.recipe`).

One interpreter first imports what every slim handler starts with (the runtime module,
then ``fastapi``), exactly as a handler would, then forks one child per function: each
child is a fresh interpreter for the application's code, at a fraction of the cost of
starting Python and FastAPI again. Without ``os.fork`` each function gets its own process.

Shared imports (zygotes). On a big app most of a child's time goes to modules that every
handler imports (a ``models`` module of hundreds of pydantic models, imported by every
router), so proving n functions costs n times the app's import: quadratic. So, with
enough functions, the proof learns from the first few (proven from scratch, as above)
which modules all of them load, and one process (a *zygote*) imports those once; below
it, one zygote per endpoint module imports that module once for its functions; each
function's child forks from there. The guarantees stay those of a fresh import:

- What is in the child's ``sys.modules`` is exactly what its fresh import would load:
  every import request (``import`` statements, found or already loaded) is logged with
  the module whose code was running, so the child's own requests, followed into what
  each preloaded module requested when it ran, *replay* the fresh import's order
  (:func:`replay`). A child whose replay does not reach every preloaded module would have
  carried a module its fresh import does not load: it answers ``retry`` and is proven
  again from scratch. Its recorded importers are those of the replay, i.e. those the
  fresh import records (the first request of each module, in the fresh order).
- The modules' state: a preloaded module ran in a zygote, not in the middle of the
  import of the module that imports it. It imports the same modules, complete either
  way; what it could see differently is what code that runs before it in a fresh import
  did (a setting another application module assigned before importing it), or
  ``sys.modules`` and its importers' frames. That is the one assumption shared imports
  add: a module's import does not depend on what other application modules did before
  it. Each child still compares every module's state, after its handler's import, with
  the monolith's (which imports them in yet another order).

Functions in turn. Below an endpoint module's zygote, its functions are proven one
after the other in one process (or a few, one per core), not one child each: a child's
cost was mostly the fork and the copy of every memory page its proof wrote to. What a
handler's import loaded is preloaded for the next ones, checked by the same replay (a
function whose import would not load all of it is proven again from scratch); what its
description imported is left out of the next closures. A handler's code builds its own
app and changes no application module (each proof compares their state again).

fastsplit's own modules that describe the rebuilt app (standard library imports only)
are imported once, before any child; they are left out of a closure unless it reaches
them.
"""

from __future__ import annotations

import builtins
import gc
import importlib
import importlib.abc
import importlib.util
import json
import linecache
import os
import select
import signal
import sys
import time
import traceback
from collections.abc import Callable, Iterable, Sequence
from types import FrameType
from typing import Any

HANDLER = "handler"
# The lines every slim handler starts with, run under the handler's name so that the
# import hook records the handler as their importer.
PRELUDE = "import fastsplit_runtime\nfastsplit_runtime.defer_pydantic_v1_import()\nimport fastapi\n"
LEARN = 2  # functions proven from scratch to learn what every handler imports
MIN_SHARED = 4  # fewer functions than this: every one from scratch
RETRY = "retry"
TOOLS = ("fastsplit.fingerprint", "fastsplit.recipe", "fastsplit.sources", "fastsplit.parser")
ZYGOTE_FAILED = 3  # exit status of a zygote whose imports raised
POLL = 0.002

# (the module running, the module asked for, the module whose code asked for it)
Event = tuple[str | None, str, str | None]


class ImportRecorder:
    """Notes who asked for each module, and logs every import request.

    As a meta path finder it finds nothing: it notes, the first time each module is
    looked for, which module's code asked for it (``importers``). Installed as
    ``__import__`` too, it also logs requests for modules already loaded, which a
    finder never sees; each logged :data:`Event` names the module being executed then
    (the innermost import in progress), so that what a module requested while it ran
    can be replayed (:func:`replay`).
    """

    def __init__(self) -> None:
        self.importers: dict[str, str | None] = {}
        self.events: list[Event] = []
        self._running: list[list[Any]] = []  # [name, spec once known] of imports in progress
        self._import = builtins.__import__

    def install(self) -> None:
        if self in sys.meta_path:
            return
        sys.meta_path.insert(0, self)
        builtins.__import__ = self.request  # type: ignore[assignment]

    def uninstall(self) -> None:
        sys.meta_path.remove(self)
        builtins.__import__ = self._import

    def find_spec(self, fullname: str, path: Any = None, target: Any = None) -> None:
        importer = _importer(sys._getframe(1))
        if fullname not in self.importers:
            self.importers[fullname] = importer
        self.events.append((self._owner(), fullname, importer))
        self._running.append([fullname, None])
        return None

    def request(
        self,
        name: str,
        globals: dict[str, Any] | None = None,
        locals: Any = None,
        fromlist: Sequence[str] | None = (),
        level: int = 0,
    ) -> Any:
        importer = _importer(sys._getframe(1))
        owner = self._owner()
        absolute = _absolute(name, globals, level)
        parts = absolute.split(".") if absolute else []
        for end in range(1, len(parts) + 1):
            self.events.append((owner, ".".join(parts[:end]), importer))
        module = self._import(name, globals, locals, fromlist, level)
        if fromlist and absolute and hasattr(module, "__path__"):
            items = list(fromlist)
            if "*" in items:
                items += list(getattr(module, "__all__", ()))
            for item in items:
                if sys.modules.get(f"{absolute}.{item}") is not None:
                    self.events.append((owner, f"{absolute}.{item}", importer))
        return module

    def _owner(self) -> str | None:
        """The innermost module being executed (imports run one inside another)."""
        running = self._running
        while running:
            entry = running[-1]
            if entry[1] is None:
                entry[1] = getattr(sys.modules.get(entry[0]), "__spec__", None)
            if entry[1] is not None and getattr(entry[1], "_initializing", False):
                return str(entry[0])
            running.pop()  # finished, failed, or not found
        return None


class HandlerSource(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    """Serves the module ``handler`` from the function's rendered source, as if it were
    the ``handler.py`` at the front of ``sys.path`` (as in the function's folder): no
    folder or file per function to write, and to remove after the proof."""

    def __init__(self) -> None:
        self.source = ""
        self.path = ""

    def serve(self, source: str, path: str) -> None:
        self.source, self.path = source, path
        # Tracebacks of a failed import quote the handler's lines.
        linecache.cache[path] = (len(source), None, source.splitlines(True), path)

    def find_spec(self, fullname: str, path: Any = None, target: Any = None) -> Any:
        if fullname != HANDLER or not self.path:
            return None
        return importlib.util.spec_from_file_location(HANDLER, self.path, loader=self)

    def create_module(self, spec: Any) -> None:
        return None  # the default module

    def exec_module(self, module: Any) -> None:
        exec(compile(self.source, self.path, "exec"), module.__dict__)


def _importer(frame: FrameType | None) -> str | None:
    while frame is not None:
        name = frame.f_globals.get("__name__") or ""
        if not (
            name.startswith("importlib") or name.startswith("_frozen_importlib") or name == __name__
        ):
            return name
        frame = frame.f_back
    return None


def _absolute(name: str, globals: dict[str, Any] | None, level: int) -> str:
    """The absolute module name of ``__import__(name, globals, level=level)``, or ""."""
    if level == 0:
        return name
    globals = globals or {}
    package = globals.get("__package__")
    if package is None:
        module = str(globals.get("__name__") or "")
        package = module if "__path__" in globals else module.rpartition(".")[0]
    bits = str(package).rsplit(".", level - 1)
    if not package or len(bits) < level:
        return ""
    return f"{bits[0]}.{name}" if name else bits[0]


def replay(
    events: Iterable[Event], ran: dict[str, list[Event]], preloaded: set[str]
) -> dict[str, str | None]:
    """The importer a fresh import records for each module it reaches.

    ``events`` are a child's requests in order; ``ran`` what each preloaded module
    requested while it ran in a zygote. In a fresh import, a preloaded module would run
    at its first request, making its own requests then: following them in that order
    gives the fresh import's order, and each module's importer is who asked first.
    """
    first: dict[str, str | None] = {}
    pending = list(events)[::-1]
    while pending:
        _, name, importer = pending.pop()
        if name in first:
            continue
        first[name] = importer
        if name in preloaded:
            pending.extend(ran.get(name, ())[::-1])
    return first


def main() -> None:
    # The prelude first (the runtime module's and the app's folders are the arguments),
    # then the request: it is written while this process imports fastapi.
    runtime_dir, app_dir = sys.argv[1:3]
    sys.path[:0] = [runtime_dir, app_dir]
    before = set(sys.modules)
    sys.meta_path.insert(0, HANDLER_SOURCE)  # ahead of the path finders, as handler.py is
    recorder = ImportRecorder()
    recorder.install()
    real_stdout = sys.stdout
    sys.stdout = sys.stderr  # the application may print while it is imported
    failure = None
    try:
        exec(compile(PRELUDE, "<slim handler prelude>", "exec"), {"__name__": HANDLER})
    except BaseException:
        failure = _failure("importing fastapi failed")
    finally:
        sys.stdout = real_stdout
    request = json.loads(sys.stdin.read())
    LOG.open(request["answers"])
    functions = request["functions"]
    if failure is not None:
        for function in functions:
            LOG.write(function["name"], failure)
        return
    if len(functions) == 1:
        (function,) = functions
        LOG.write(function["name"], _prove(function, request, recorder, before))
    else:  # fastsplit.prove sends one function per process where there is no fork
        Proof(request, recorder, before).run(functions)


# A task runs ``work`` in a forked child; ``done`` gets its exit status (None when it
# was killed for taking too long) and returns more tasks to run.
Task = tuple[Callable[[], None], float, Callable[[int | None], list[Any]]]


class Proof:
    """Proves many functions, forking from zygotes (see the module docstring)."""

    def __init__(self, request: dict[str, Any], recorder: ImportRecorder, before: set[str]):
        self.request = request
        self.recorder = recorder
        self.before = before
        self.jobs = max(1, int(request["jobs"]))
        self.timeout = float(request["timeout"])
        self.ran: dict[str, list[Event]] = {}
        self.preloaded: set[str] = set()
        self.settled = set(sys.modules)  # the prelude's: their importers are recorded
        # Every child loaded the prelude's modules, recorded alike: they are sent once.
        common = sorted(self.settled - before)
        _write_file(request["prelude"], {"modules": _entries(common, recorder.importers)})
        self.tools = self._load_tools()
        _learn_first_party(request)

    def run(self, functions: list[dict[str, str]]) -> None:
        if len(functions) < MIN_SHARED or not self.request.get("share", True):
            _run_all([self._task(f) for f in functions], self.jobs)
            return
        groups = _groups(functions)
        learners = [group[0] for group in groups.values()][:LEARN]
        _run_all([self._task(f, learn=True) for f in learners], self.jobs)
        preload = self._learned(learners)
        rest = [f for f in functions if f not in learners]
        if preload:
            count = len(rest) + 1
            _run_all([(lambda: self._zygote(preload, rest), self.timeout * count, _none)], 1)
        last = LOG.last()
        again = [f for f in rest if last.get(f["name"], (RETRY, b""))[0] == RETRY]
        # Their answers follow the "retry" ones in the log (the last record wins).
        _run_all([self._task(f) for f in again], self.jobs)

    def _learned(self, learners: list[dict[str, str]]) -> list[str]:
        """The modules every learner's fresh import loaded (after the prelude), in the
        first one's order; none if a learner failed."""
        loads = []
        last = LOG.last()
        for learner in learners:
            try:
                answer = json.loads(last[learner["name"]][1])
            except (KeyError, ValueError):
                return []
            if "error" in answer:
                return []
            loads.append(answer["loaded"])
        common = set(loads[0]).intersection(*loads[1:])
        excluded = {HANDLER, self.request["app_module"], *sys.modules}
        return [name for name in loads[0] if name in common and name not in excluded]

    def _task(self, function: dict[str, str], *, learn: bool = False) -> Task:
        def work() -> None:
            try:
                answer = _prove(
                    function, self.request, self.recorder, self.before, self, learn=learn
                )
            except BaseException:
                answer = _failure("the proof itself failed")
            LOG.write(function["name"], answer)

        start = LOG.size()  # its answer is written after this point of the log

        def done(status: int | None) -> list[Any]:
            # A child that exits normally wrote its answer (work() writes one either way).
            if status is None:
                message = f"importing the handler took over {self.timeout} s"
                LOG.write(function["name"], {"error": message})
            elif status != 0 and function["name"] not in LOG.last(start):
                message = f"the proof process died (status {status})"
                LOG.write(function["name"], {"error": message})
            return []

        return work, self.timeout, done

    def _zygote(self, modules: list[str], functions: list[dict[str, str]]) -> None:
        """Import ``modules`` once, then prove ``functions`` in children of this process
        (in a zygote per endpoint module); exits with ZYGOTE_FAILED if an import raised."""
        self._preload(modules)
        groups = _groups(functions)
        tasks: list[Task] = []
        inner = max(1, self.jobs // max(1, min(self.jobs, len(groups))))
        for module, members in groups.items():
            if len(members) == 1:
                tasks.extend(self._task(f) for f in members)
                continue

            def work(module: str = module, members: list[dict[str, str]] = members) -> None:
                self._preload([module])
                chunks = _chunks(members, inner)
                if len(chunks) == 1:
                    self._in_turn(members)
                    return
                _run_all([self._turns(chunk) for chunk in chunks], inner)

            def done(status: int | None, members: list[dict[str, str]] = members) -> list[Any]:
                if status == ZYGOTE_FAILED:  # prove them here, without that import
                    return [self._task(f) for f in members]
                return []

            tasks.append((work, self.timeout * (len(members) + 1), done))
        _run_all(tasks, self.jobs)

    def _turns(self, functions: list[dict[str, str]]) -> Task:
        return lambda: self._in_turn(functions), self.timeout * (len(functions) + 1), _none

    def _in_turn(self, functions: list[dict[str, str]]) -> None:
        """Prove ``functions`` one after the other in this process (functions of one
        endpoint module import the same modules, as a rule): what a handler's import
        loads becomes preloaded for the next ones, whose replay must reach it like any
        preloaded module, or they are proven again from scratch (as are those after a
        failure, which may have left half-imported modules behind). One process instead
        of one per function spares a fork and the copying of every page the proof
        touches, for each function."""
        for index, function in enumerate(functions):
            loaded = set(sys.modules)
            self.recorder.install()
            try:
                answer = _prove(function, self.request, self.recorder, self.before, self)
            except BaseException:
                answer = _failure("the proof itself failed")
            if "error" in answer:
                if index:  # perhaps because of what the functions before it did
                    answer = {RETRY: "the proof after another function failed"}
                LOG.write(function["name"], answer)
                return  # the rest have no answer: run() proves them from scratch
            LOG.write(function["name"], answer)
            sys.modules.pop(HANDLER, None)
            self._note_ran(skip=HANDLER)
            # What its import loaded is preloaded now; what describing it loaded
            # counts as the proof's own tools (left out of the next closures).
            new = set(sys.modules) - loaded
            imported = {module["name"] for module in answer.get("modules", ())} or new
            self.preloaded |= new & imported
            self.tools |= new - imported

    def _load_tools(self) -> set[str]:
        """Import what describing a rebuilt app needs (fastsplit's own modules: only
        standard library imports) once, rather than in every child. A child's import
        that reaches one of them (none should) gets it in its closure, as a preloaded
        module; otherwise it is left out of it."""
        self.recorder.events = []
        sys.path.insert(0, self.request["fastsplit_root"])
        for name in TOOLS:
            importlib.import_module(name)
        sys.path.remove(self.request["fastsplit_root"])
        self._note_ran()
        return set(sys.modules) - self.settled

    def _note_ran(self, skip: str | None = None) -> None:
        """Keep what each module requested while it ran (but not its requests for the
        prelude's modules, whose importers are recorded already: the replay would only
        skip them, in every child; nor those of the module ``skip``)."""
        for event in self.recorder.events:
            if event[0] not in (None, skip) and event[1] not in self.settled:
                self.ran.setdefault(event[0], []).append(event)
        self.recorder.events = []

    def _preload(self, modules: list[str]) -> None:
        """Import ``modules`` in this zygote, keeping what each requested as it ran;
        exits with ZYGOTE_FAILED when that raised or started a thread."""
        self.recorder.events = []
        loaded = set(sys.modules)
        real_stdout = sys.stdout
        sys.stdout = sys.stderr
        try:
            for name in modules:
                if name not in sys.modules:
                    importlib.import_module(name)
        except BaseException:
            os._exit(ZYGOTE_FAILED)
        finally:
            sys.stdout = real_stdout
        if len(sys._current_frames()) > 1:
            # An import started a thread: a fork copies only this one, and a lock the
            # other held stays locked in every child. Prove them without this zygote.
            os._exit(ZYGOTE_FAILED)
        self._note_ran()
        new = set(sys.modules) - loaded
        self.preloaded |= new
        _learn_first_party(self.request, new)


def _groups(functions: list[dict[str, str]]) -> dict[str, list[dict[str, str]]]:
    groups: dict[str, list[dict[str, str]]] = {}
    for function in functions:
        groups.setdefault(function.get("group") or "", []).append(function)
    return groups


def _chunks(functions: list[dict[str, str]], count: int) -> list[list[dict[str, str]]]:
    """``functions`` in at most ``count`` runs of consecutive functions, of even sizes."""
    count = max(1, min(count, len(functions)))
    size, extra = divmod(len(functions), count)
    chunks, start = [], 0
    for index in range(count):
        end = start + size + (index < extra)
        chunks.append(functions[start:end])
        start = end
    return chunks


def _none(status: int | None) -> list[Any]:
    return []


def _run_all(tasks: list[Task], jobs: int) -> None:
    """Run the tasks in forked children, ``jobs`` at a time; a child that takes longer
    than its timeout is killed."""
    # The children share this process's memory until they write to it; a collection in
    # a child would write to every object (and copy all of its pages): let the garbage
    # collector skip what exists now (it only frees reference cycles, which this
    # process keeps anyway).
    gc.collect()
    gc.freeze()
    pending = list(tasks)
    running: dict[int, tuple[float, Callable[[int | None], list[Any]]]] = {}
    exits = _Exits()
    while pending or running:
        while pending and len(running) < jobs:
            work, timeout, done = pending.pop(0)
            pid = os.fork()
            if pid == 0:
                os.dup2(2, 1)  # the child's prints must not reach the parent's stdout
                try:
                    work()
                finally:
                    os._exit(0)
            running[pid] = (time.monotonic() + timeout, done)
            exits.watch(pid)
        pid, status = os.waitpid(-1, os.WNOHANG)
        if pid == 0:
            now = time.monotonic()
            for child, (deadline, done) in list(running.items()):
                if now > deadline:
                    os.kill(child, signal.SIGKILL)
                    os.waitpid(child, 0)
                    del running[child]
                    exits.forget(child)
                    pending.extend(done(None))
            if running:
                exits.wait(min(deadline for deadline, _ in running.values()) - now)
            continue
        _, done = running.pop(pid)
        exits.forget(pid)
        pending.extend(done(os.waitstatus_to_exitcode(status)))


class _Exits:
    """Waits for one of the running children to exit: on Linux, on their pidfds (woken
    the moment one exits: a short sleep between looks would leave a core idle for up to
    that long after every child, and a big app has hundreds of them); elsewhere, a short
    sleep."""

    def __init__(self) -> None:
        self.fds: dict[int, int] = {}
        self.polling = not hasattr(os, "pidfd_open")

    def watch(self, pid: int) -> None:
        if self.polling:
            return
        try:
            self.fds[pid] = os.pidfd_open(pid)
        except OSError:  # a kernel without pidfds (before Linux 5.3)
            self.polling = True

    def forget(self, pid: int) -> None:
        fd = self.fds.pop(pid, None)
        if fd is not None:
            os.close(fd)

    def wait(self, timeout: float) -> None:
        if self.polling or not self.fds:
            time.sleep(POLL)
        else:
            select.select(list(self.fds.values()), [], [], max(0.0, timeout))


def _prove(
    function: dict[str, str],
    request: dict[str, Any],
    recorder: ImportRecorder,
    before: set[str],
    shared: Proof | None = None,
    *,
    learn: bool = False,
) -> dict[str, Any]:
    """Import the function's handler, then describe what it loaded and the rebuilt app
    (the answer :func:`fastsplit.prove.refusal` judges). ``shared``: the child of a
    zygote, whose preloaded modules the replay accounts for."""
    HANDLER_SOURCE.serve(function["source"], os.path.join(function["dir"], HANDLER + ".py"))
    sys.path[0] = function["dir"]  # as in the function: its folder first (the handler's check)
    real_stdout = sys.stdout
    sys.stdout = sys.stderr
    recorder.events = []
    try:
        handler = __import__(HANDLER)
    except BaseException as exc:
        return _failure(f"importing the handler raised {type(exc).__name__}: {exc}")
    finally:
        sys.stdout = real_stdout
        recorder.uninstall()
    importers = dict(recorder.importers)
    names = set(sys.modules) - before
    if shared is not None:
        fresh = replay(recorder.events, shared.ran, shared.preloaded | shared.tools)
        missing = sorted(shared.preloaded.difference(fresh))
        if missing:
            return {RETRY: f"its import does not load {', '.join(missing[:3])}"}
        names -= shared.tools.difference(fresh)  # loaded for the proof only
        importers.update((name, fresh[name]) for name in fresh if name not in shared.settled)
    if shared is not None:  # the prelude's modules are in Proof's prelude answer
        names -= shared.settled
    modules = _entries(sorted(names), importers)
    # From here on, imports no longer count: describe the rebuilt app.
    if shared is None:
        sys.path.insert(0, request["fastsplit_root"])
    try:
        from fastsplit.fingerprint import module_state, state_digest
        from fastsplit.recipe import fingerprint

        expected = request.get("states", {})
        state = {}
        for m in modules:
            if m["file"] and m["name"] != HANDLER and _first_party(m["file"], request):
                found = module_state(sys.modules[m["name"]])
                if state_digest(found) != expected.get(m["name"]):
                    state[m["name"]] = found
        answer = fingerprint(
            handler.app, app_module=request["app_module"], app_dir=request["app_dir"]
        )
    except BaseException:
        return _failure("describing the rebuilt app failed")
    answer["modules"] = modules
    answer["prelude"] = shared is not None  # its modules are in request["prelude"] too
    answer["state"] = state  # the modules whose state is not the monolith's
    if learn:  # what it loaded, in order, for Proof._learned
        answer["loaded"] = [name for name in importers if name in names]
    return answer


def _entries(names: Iterable[str], importers: dict[str, str | None]) -> list[dict[str, Any]]:
    """What an answer says of each module loaded: its file, its package folders and who
    imported it."""
    entries = []
    for name in names:
        module = sys.modules[name]
        entries.append(
            {
                "name": name,
                "file": getattr(module, "__file__", None),
                "path": [str(p) for p in getattr(module, "__path__", None) or []],
                "importer": importers.get(name),
            }
        )
    return entries


HANDLER_SOURCE = HandlerSource()
_FIRST_PARTY: dict[str, bool] = {}


def _first_party(filename: str, request: dict[str, Any]) -> bool:
    """:func:`fastsplit.sources.is_first_party_file`, remembered: zygotes learn the
    answer for the modules they load once for all their children."""
    found = _FIRST_PARTY.get(filename)
    if found is None:
        from fastsplit.sources import is_first_party_file

        app_dir = os.path.realpath(request["app_dir"])
        found = _FIRST_PARTY[filename] = is_first_party_file(filename, app_dir)
    return found


def _learn_first_party(request: dict[str, Any], names: Iterable[str] | None = None) -> None:
    """Classify the files of the modules ``names`` (by default, all loaded) once."""
    for name in list(sys.modules) if names is None else names:
        filename = getattr(sys.modules.get(name), "__file__", None)
        if isinstance(filename, str):
            _first_party(filename, request)


def _failure(message: str) -> dict[str, Any]:
    lines = traceback.format_exc().strip().splitlines()
    return {"error": " ".join(message.split()), "traceback": lines[-12:]}


def _write_file(path: str, data: dict[str, Any]) -> None:
    # json.dumps, not json.dump: only dumps uses the C encoder.
    text = json.dumps(data)
    with open(path + ".tmp", "w", encoding="utf-8") as file:
        file.write(text)
    os.replace(path + ".tmp", path)


# --- the answers log ----------------------------------------------------------------
# One file for every answer, not one file each: a thousand files made and removed per
# build cost more than the answers (a new file is a new inode, and on some file systems
# each new inode looks through the recently freed ones).


def record(name: str, answer: dict[str, Any]) -> bytes:
    """A function's answer as the log holds it: a line ``NAME<tab>KIND<tab>JSON`` (KIND
    ``retry`` for a placeholder, else ``answer``), after a newline, so that a record cut
    short by a writer that was killed ends where the next one starts. The last record of
    a function is its answer."""
    kind = RETRY if RETRY in answer else "answer"
    # json.dumps, not json.dump: only dumps uses the C encoder (answers are big).
    return f"\n{name}\t{kind}\t{json.dumps(answer)}\n".encode()


def records(data: bytes) -> tuple[list[tuple[str, str, bytes]], int]:
    """The complete records at the start of ``data`` (name, kind, JSON), and how many
    bytes they take: the rest is a record still being written."""
    end = data.rfind(b"\n") + 1
    found = []
    for line in data[:end].split(b"\n"):
        name, _, rest = line.partition(b"\t")
        kind, tab, body = rest.partition(b"\t")
        if tab:
            found.append((name.decode(), kind.decode(), body))
    return found, end


class AnswersLog:
    """The answers log, appended to by this process and its children (each record in
    one write: appends to a file do not interleave)."""

    def __init__(self) -> None:
        self.path = ""
        self._fd = -1

    def open(self, path: str) -> None:
        self.path = path
        self._fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)

    def write(self, name: str, answer: dict[str, Any]) -> None:
        data = memoryview(record(name, answer))
        while data:
            data = data[os.write(self._fd, data) :]

    def size(self) -> int:
        return os.fstat(self._fd).st_size

    def last(self, start: int = 0) -> dict[str, tuple[str, bytes]]:
        """Each function's last record (kind, JSON), from byte ``start`` on."""
        with open(self.path, "rb") as file:
            file.seek(start)
            found, _ = records(file.read())
        return {name: (kind, body) for name, kind, body in found}


LOG = AnswersLog()


if __name__ == "__main__":
    main()
