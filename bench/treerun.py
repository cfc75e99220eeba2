"""Run one command and measure its whole process tree: wall, CPU, memory, with a time limit.

Memory is measured two ways, because a command such as ``fastsplit build`` runs helper
processes (the slim proof: a probe interpreter that forks one child per function):

* ``max_rss``: the largest resident set of any *single* process of the tree, exact, from
  ``wait4``'s rusage (Linux folds the waited-for descendants' peak into it);
* ``peak_pss``: the largest *sum* over the tree at any moment, sampled every
  :data:`SAMPLE_EVERY` seconds from ``/proc/PID/smaps_rollup`` (proportional set size, so
  pages a forked child shares with its parent are counted once, not per process). A
  process living less than one interval can be missed: it is a lower bound. Sampling
  slows the command down: time it in runs without (``sample=False``).
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

SAMPLE_EVERY = 0.05


@dataclass(frozen=True)
class TreeRun:
    wall: float
    """Seconds from start to exit (to the kill when stopped)."""
    cpu: float
    """User + system seconds of the command and every process it waited for."""
    max_rss: int
    """Bytes: the largest peak resident set of any single process of the tree."""
    peak_pss: int
    """Bytes: the largest sampled sum of the tree's proportional set sizes."""
    returncode: int
    stopped: bool
    """Killed (with its whole process group) after the time limit."""


def run_tree(
    command: Sequence[object],
    *,
    cwd: Path,
    env: Mapping[str, str],
    log: Path,
    timeout: float,
    sample: bool = True,
) -> TreeRun:
    """Run ``command`` (output to ``log``) in a new session; kill its group at ``timeout``.

    ``sample=False``: no peak PSS (0). Sampling costs CPU (reading ``smaps_rollup`` walks
    a process's page tables: ~1 s over a 1,000-route build on 2 cores) and holds each
    process's memory map lock while its children fault in pages: timed runs go without.
    """
    log.parent.mkdir(parents=True, exist_ok=True)
    stop = threading.Event()
    peak = [0]
    stopped = threading.Event()
    with log.open("w") as out:
        start = time.perf_counter()
        process = subprocess.Popen(
            [str(part) for part in command], cwd=cwd, env=dict(env), stdin=subprocess.DEVNULL,
            stdout=out, stderr=subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip
        sampler = None
        if sample:
            sampler = threading.Thread(target=_sample, args=(process.pid, peak, stop), daemon=True)
            sampler.start()

        def kill() -> None:
            stopped.set()
            _kill_group(process.pid)

        timer = threading.Timer(timeout, kill)
        timer.start()
        # wait4, not Popen.wait: its rusage is this child's tree only (CPU and max RSS).
        _, status, usage = os.wait4(process.pid, 0)
        wall = time.perf_counter() - start
        timer.cancel()
        process.returncode = os.waitstatus_to_exitcode(status)
        stop.set()
        if sampler is not None:
            sampler.join()
    if stopped.is_set():
        # Grandchildren outlive a killed parent only until the group kill reaches them.
        _kill_group(process.pid)
    return TreeRun(
        wall=wall,
        cpu=usage.ru_utime + usage.ru_stime,
        max_rss=usage.ru_maxrss * 1024,  # kilobytes on Linux
        peak_pss=peak[0],
        returncode=process.returncode,
        stopped=stopped.is_set(),
    )


def _kill_group(pid: int) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pid, signal.SIGKILL)


def _sample(root: int, peak: list[int], stop: threading.Event) -> None:
    while not stop.wait(SAMPLE_EVERY):
        total = sum(_pss(pid) for pid in _tree(root))
        peak[0] = max(peak[0], total)


def _tree(root: int) -> list[int]:
    """``root`` and its descendants, from every process's parent id in /proc."""
    children: dict[int, list[int]] = {}
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            with open(f"/proc/{entry.name}/stat", "rb") as stat:
                # The command name may hold spaces or parentheses: split after the last ")".
                fields = stat.read().rsplit(b")", 1)[1].split()
        except OSError:
            continue
        children.setdefault(int(fields[1]), []).append(int(entry.name))
    found, todo = [], [root]
    while todo:
        pid = todo.pop()
        found.append(pid)
        todo += children.get(pid, [])
    return found


def _pss(pid: int) -> int:
    """Bytes of ``pid``'s proportional set size (0 once it has exited)."""
    try:
        with open(f"/proc/{pid}/smaps_rollup", "rb") as rollup:
            for line in rollup:
                if line.startswith(b"Pss:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    return 0
