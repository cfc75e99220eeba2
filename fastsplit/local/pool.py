"""Each function in its own worker, started on first use and kept warm, as on Lambda.

A :class:`WorkerPool` keeps one :class:`~fastsplit.local.worker.Worker` per function,
starts it on the function's first event (a cold start), and drops it when it crashes,
fails to start or times out, so that the next event starts a fresh one. Events for one
function wait for each other (one environment); different functions run in parallel.
"""

from __future__ import annotations

import os
import threading
import time
import uuid
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from contextlib import suppress
from typing import Any

from fastsplit.local.deployment import Deployment, LocalFunction
from fastsplit.local.worker import (
    FunctionError,
    Invocation,
    OutputCallback,
    Worker,
    WorkerFailure,
)


class WorkerPool:
    """One worker per function of a deployment, started on demand."""

    def __init__(
        self,
        deployment: Deployment,
        *,
        env: dict[str, str] | None = None,
        on_output: OutputCallback | None = None,
        start_timeout: float = 60.0,
        timeout: float | None = None,
    ) -> None:
        self.deployment = deployment
        self._env = dict(os.environ if env is None else env)
        # A PYTHONPATH would put the developer's folders on the function's sys.path.
        self._env.pop("PYTHONPATH", None)
        self._on_output = on_output
        self._start_timeout = start_timeout
        self._timeout = timeout
        self._workers: dict[str, Worker] = {}
        self._locks: dict[str, threading.Lock] = {}
        self._guard = threading.Lock()
        self._closed = False

    def invoke(self, name: str, event: Any) -> Invocation:
        """Run ``event`` through function ``name``; never raises for function failures."""
        function = self.deployment.function(name)
        with self._lock_for(name):
            started = time.monotonic()
            worker = self._workers.get(name)
            if worker is not None and not worker.alive:
                self._discard(name)  # died between events
                worker = None
            cold = worker is None
            try:
                if worker is None:
                    worker = self._start(function)
                timeout = self._timeout or float(function.timeout)
                response = worker.invoke(event, self._context(function, timeout), timeout)
                error = None
            except WorkerFailure as failure:
                response, error = None, failure.error
                if failure.error.kind != "handler":
                    # Lambda, too, replaces an environment that crashed or timed out.
                    self._discard(name)
            duration = (time.monotonic() - started) * 1000
            init_ms = worker.init_ms if (cold and worker is not None) else 0.0
            pid = worker.pid if worker is not None else None
            return Invocation(name, response, error, cold, init_ms, duration - init_ms, pid)

    def start_all(self, names: Iterable[str], *, jobs: int = 4) -> None:
        """Start these functions' workers now, in parallel (failures wait for a request)."""

        def start(name: str) -> None:
            with self._lock_for(name):
                if name not in self._workers:
                    with suppress(WorkerFailure):
                        self._start(self.deployment.function(name))

        with ThreadPoolExecutor(max_workers=jobs) as pool:
            list(pool.map(start, list(names)))

    def pids(self) -> dict[str, int]:
        with self._guard:
            workers = dict(self._workers)
        return {name: w.pid for name, w in workers.items() if w.pid is not None and w.alive}

    def restart_all(self) -> None:
        """Stop every worker; each function cold-starts again on its next event."""
        for name in list(self._workers):
            with self._lock_for(name):
                self._discard(name)

    def close(self) -> None:
        self._closed = True
        with self._guard:
            workers = list(self._workers.values())
            self._workers.clear()
        threads = [threading.Thread(target=worker.stop) for worker in workers]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()

    def _start(self, function: LocalFunction) -> Worker:
        if self._closed:
            raise WorkerFailure(FunctionError("crash", "Runtime.Shutdown", "shutting down"))
        worker = Worker(
            function,
            python=self.deployment.python,
            root=self.deployment.code_root(function.name),
            search_path=self.deployment.search_path(),
            env=self._function_env(function),
            on_output=self._on_output,
        )
        worker.start(self._start_timeout)
        with self._guard:
            self._workers[function.name] = worker
        return worker

    def _discard(self, name: str) -> None:
        with self._guard:
            worker = self._workers.pop(name, None)
        if worker is not None:
            worker.stop(grace=1.0)

    def _lock_for(self, name: str) -> threading.Lock:
        with self._guard:
            return self._locks.setdefault(name, threading.Lock())

    def _function_env(self, function: LocalFunction) -> dict[str, str]:
        deployment = self.deployment
        lambda_env = {
            "AWS_LAMBDA_FUNCTION_NAME": self._qualified(function),
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(function.memory),
            "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
            "LAMBDA_TASK_ROOT": str(deployment.code_root(function.name)),
            "_HANDLER": function.handler,
        }
        return {**self._env, **lambda_env, **function.environment}

    def _qualified(self, function: LocalFunction) -> str:
        return f"{self.deployment.service}-{self.deployment.stage}-{function.name}"

    def _context(self, function: LocalFunction, timeout: float) -> dict[str, Any]:
        name = self._qualified(function)
        region = self.deployment.region
        return {
            "function_name": name,
            "function_version": "$LATEST",
            "invoked_function_arn": f"arn:aws:lambda:{region}:123456789012:function:{name}",
            "memory_limit_in_mb": function.memory,
            "aws_request_id": str(uuid.uuid4()),
            "log_group_name": f"/aws/lambda/{name}",
            "log_stream_name": "local",
            "deadline_ms": int((time.time() + timeout) * 1000),
        }
