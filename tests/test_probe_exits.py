"""The probe waits for its forked children without polling: woken as one exits."""

from __future__ import annotations

import gc
import os
import sys
import time

import pytest

from fastsplit import probe

pytestmark = pytest.mark.skipif(not hasattr(os, "fork"), reason="the probe forks on POSIX only")


def _child(seconds: float) -> int:
    pid = os.fork()
    if pid == 0:
        time.sleep(seconds)
        os._exit(0)
    return pid


@pytest.mark.skipif(not hasattr(os, "pidfd_open"), reason="no pidfds here")
def test_a_wait_ends_when_a_child_exits_not_at_its_timeout() -> None:
    exits = probe._Exits()
    pid = _child(0.2)
    exits.watch(pid)
    assert not exits.polling
    start = time.monotonic()
    exits.wait(30)
    assert time.monotonic() - start < 10  # woken by the exit, long before the timeout
    assert os.waitpid(pid, 0)[0] == pid
    exits.forget(pid)
    assert exits.fds == {}


def test_a_wait_without_pidfds_is_a_short_sleep(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delattr(os, "pidfd_open", raising=False)
    exits = probe._Exits()
    pid = _child(5)
    try:
        exits.watch(pid)
        assert exits.polling and exits.fds == {}
        start = time.monotonic()
        exits.wait(30)
        assert time.monotonic() - start < 1
    finally:
        os.kill(pid, 9)
        os.waitpid(pid, 0)


def test_run_all_runs_every_task_jobs_at_a_time_and_reports_each_exit() -> None:
    statuses: list[int | None] = []

    def task(code: int) -> probe.Task:
        def work() -> None:
            time.sleep(0.05)
            sys.stdout.flush()
            os._exit(code)

        def done(status: int | None) -> list[object]:
            statuses.append(status)
            return []

        return work, 30.0, done

    start = time.monotonic()
    try:
        probe._run_all([task(code) for code in (0, 1, 2, 3, 0, 5)], 2)
    finally:
        gc.unfreeze()  # _run_all freezes the heap before forking; this process goes on
    assert sorted(statuses) == [0, 0, 1, 2, 3, 5]  # no None: none timed out
    assert time.monotonic() - start < 20
