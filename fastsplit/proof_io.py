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
from fastsplit.probe import RETRY, records

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
    """Start the proof: its probe imports fastapi while the caller goes on (importing and
    describing the app). Everything is removed, and the probe stopped, on the way out."""
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


def answer_of(answer: dict[str, Any], prelude: list[dict[str, Any]] | None) -> dict[str, Any]:
    """An answer as read from the log, with the prelude's modules merged in."""
    if "error" not in answer and "modules" not in answer:
        return {"error": "the proof gave no answer"}
    if answer.pop("prelude", False) and "modules" in answer:
        if prelude is None:
            return {"error": "the proof did not list the modules all handlers load"}
        answer["modules"] = sorted([*prelude, *answer["modules"]], key=lambda m: m["name"])
        # The same list in every answer: what is learned about it holds for all of them.
        answer["shared_modules"] = prelude
    return answer


class Arrivals:
    """The answers the probe has appended to its answers logs so far (see
    :func:`fastsplit.probe.record`): each log is read from where the last look stopped;
    "retry" records are only placeholders, and a function's last answer is its answer."""

    def __init__(self, logs: list[Path], prelude: Path) -> None:
        self._offsets = dict.fromkeys(logs, 0)
        self._prelude_path = prelude
        self._prelude: list[dict[str, Any]] | None = None
        self._latest: dict[str, dict[str, Any]] = {}

    def new(self) -> list[tuple[str, dict[str, Any]]]:
        """The answers appended since the last look (a function's again if replaced)."""
        return self._read()

    def finish(self) -> None:
        """Read what the probe wrote last (it is done)."""
        self._read()

    def final(self, name: str, problem: str = "") -> dict[str, Any]:
        """The function's last answer (after :meth:`finish`), or why there is none."""
        return self._latest.get(name) or {"error": problem or "the proof gave no answer"}

    def _read(self) -> list[tuple[str, dict[str, Any]]]:
        found = []
        for log, offset in self._offsets.items():
            try:
                with open(log, "rb") as file:
                    file.seek(offset)
                    data = file.read()
            except OSError:
                continue  # not written yet
            complete, size = records(data)
            self._offsets[log] = offset + size
            for name, kind, body in complete:
                self._latest.pop(name, None)
                if kind == RETRY:
                    continue
                try:
                    answer = json.loads(body)
                except ValueError:
                    continue  # cut short: its writer was killed
                if self._prelude is None and answer.get("prelude"):
                    self._prelude = read_prelude(self._prelude_path)
                self._latest[name] = answer_of(answer, self._prelude)
                found.append((name, self._latest[name]))
        return found
