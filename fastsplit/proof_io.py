"""The proof's processes and files: the probe started ahead, its request sent, its
answers read as they arrive (:func:`fastsplit.prove.run_probes` drives them)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from collections.abc import Iterable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fastsplit.generator import runtime_source
from fastsplit.probe import RETRY

PROBE = Path(__file__).with_name("probe.py")
TIMEOUT = 300.0


@dataclass
class ProofAhead:
    """The proof's folder (with the runtime module) and, where there is fork, the probe
    process that proves every function, already importing what every handler starts
    with. Used by one proof."""

    root: Path
    app_dir: Path
    """The folder the probe imports the app from (resolved)."""
    process: subprocess.Popen[str] | None
    used: bool = False


@contextmanager
def proof_ahead(app_dir: Path) -> Iterator[ProofAhead]:
    """Start the proof: its probe imports fastapi while the caller goes on (describing
    the app, writing the handlers). Everything is removed, and the probe stopped, on
    the way out."""
    with tempfile.TemporaryDirectory(prefix="fastsplit-proof-") as tmp, ExitStack() as stack:
        root = Path(tmp)
        (root / "runtime").mkdir()
        (root / "runtime" / "fastsplit_runtime.py").write_text(runtime_source(), "utf-8")
        # With fork, one interpreter imports what every handler starts with, then forks;
        # without, every function gets its own process (started as it is proven).
        app_dir = app_dir.resolve()
        process = None
        if hasattr(os, "fork"):
            process = stack.enter_context(_start(root / "runtime", app_dir))
        yield ProofAhead(root, app_dir, process)


@contextmanager
def _start(runtime_dir: Path, app_dir: Path) -> Iterator[subprocess.Popen[str]]:
    """A probe process, importing what every handler starts with until its request
    comes; killed on the way out if it is still running (the build failed meanwhile)."""
    # -P: the probe's folder (fastsplit's own) must not shadow the app's modules.
    command = [sys.executable, "-B", "-P", str(PROBE), str(runtime_dir), str(app_dir)]
    process = subprocess.Popen(
        command,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        yield process
    finally:
        if process.poll() is None:
            process.kill()
        process.communicate()


def run(request: dict[str, Any], process: subprocess.Popen[str] | None = None) -> str:
    """Send the probe (``process``, or a new one) its request and wait for it: an empty
    string, or what went wrong with the probe itself."""
    if process is None:
        runtime_dir, app_dir = Path(request["runtime_dir"]), Path(request["app_dir"])
        with _start(runtime_dir, app_dir) as started:
            return run(request, started)
    rounds = len(request["functions"]) // request["jobs"] + 2
    try:
        _, stderr = process.communicate(json.dumps(request), timeout=TIMEOUT * rounds)
    except subprocess.TimeoutExpired:
        process.kill()
        process.communicate()
        return "the proof timed out"
    if process.returncode != 0:
        lines = (stderr.strip() or "no output").splitlines()
        return f"the proof process failed: {lines[-1]}"
    return ""


def spread(problems: list[str], batches: list[list[dict[str, str]]]) -> Iterable[str]:
    for problem, batch in zip(problems, batches, strict=True):
        yield from [problem] * len(batch)


def read_prelude(path: Path) -> list[dict[str, Any]] | None:
    """The modules every handler loads first, which answers that say ``prelude`` leave
    out (None when the probe did not write them)."""
    try:
        modules: list[dict[str, Any]] = json.loads(path.read_text("utf-8"))["modules"]
    except (OSError, ValueError, KeyError):
        return None
    return modules


def read_answer(
    path: Path, problem: str, prelude: list[dict[str, Any]] | None = None
) -> dict[str, Any]:
    try:
        answer: dict[str, Any] = json.loads(path.read_text("utf-8"))
    except (OSError, ValueError):
        return {"error": problem or "the proof gave no answer"}
    return answer_of(answer, problem, prelude)


def answer_of(
    answer: dict[str, Any], problem: str, prelude: list[dict[str, Any]] | None
) -> dict[str, Any]:
    if "error" not in answer and "modules" not in answer:
        return {"error": problem or "the proof gave no answer"}
    if answer.pop("prelude", False) and "modules" in answer:
        if prelude is None:
            return {"error": problem or "the proof did not list the modules all handlers load"}
        answer["modules"] = sorted([*prelude, *answer["modules"]], key=lambda m: m["name"])
        # The same list in every answer: what is learned about it holds for all of them.
        answer["shared_modules"] = prelude
    return answer


class Arrivals:
    """The answers the probe has written so far (each once; "retry" answers are only
    placeholders, replaced by a proof from scratch)."""

    def __init__(self, requests: list[dict[str, Any]], prelude: Path) -> None:
        self._waiting = {Path(r["answer"]).name: r["name"] for r in requests}
        self._folder = prelude.parent
        self._prelude_path = prelude
        self._prelude: list[dict[str, Any]] | None = None
        self._seen: dict[str, tuple[dict[str, Any], Path, tuple[int, int, int]]] = {}

    def new(self) -> list[tuple[str, dict[str, Any]]]:
        found = []
        for entry in os.scandir(self._folder):
            name = self._waiting.get(entry.name)
            if name is None:
                continue
            path = Path(entry.path)
            try:
                version = _version_of(path)
                data = json.loads(path.read_text("utf-8"))
            except (OSError, ValueError):
                continue
            if RETRY in data:
                continue
            if self._prelude is None and data.get("prelude"):
                self._prelude = read_prelude(self._prelude_path)
            answer = answer_of(data, "", self._prelude)
            del self._waiting[entry.name]
            self._seen[name] = answer, path, version
            found.append((name, answer))
        return found

    def final(self, name: str) -> dict[str, Any] | None:
        """The answer seen for ``name`` if its file is still the one read."""
        seen = self._seen.get(name)
        if seen is None:
            return None
        answer, path, version = seen
        try:
            return answer if _version_of(path) == version else None
        except OSError:
            return None


def _version_of(path: Path) -> tuple[int, int, int]:
    """Which answer a file holds: the probe replaces an answer with a new file."""
    stat = path.stat()
    return stat.st_ino, stat.st_mtime_ns, stat.st_size
