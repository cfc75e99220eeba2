"""The whole local split in one object: functions, their workers and the gateway."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from types import TracebackType

from fastsplit.local.deployment import Deployment, Source
from fastsplit.local.pool import WorkerPool
from fastsplit.local.server import Gateway, GatewayServer, RequestRecord
from fastsplit.local.worker import OutputCallback


class LocalSplit:
    """``with LocalSplit(build) as split:`` serves the build on ``split.url`` (a free
    loopback port by default); leaving the block stops the server and every worker
    process and removes unzipped artifacts."""

    def __init__(
        self,
        build: Path,
        *,
        source: Source = "build",
        dist: Path | None = None,
        python: str | None = None,
        env: dict[str, str] | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
        timeout: float | None = None,
        on_request: Callable[[RequestRecord], None] | None = None,
        on_output: OutputCallback | None = None,
        on_error: Callable[[str], None] | None = None,
    ) -> None:
        self.deployment = Deployment(build, source=source, dist=dist, python=python)
        self.pool = WorkerPool(self.deployment, env=env, on_output=on_output, timeout=timeout)
        self.gateway = Gateway(self.pool, on_request=on_request, on_error=on_error)
        self._host, self._port = host, port
        self.server: GatewayServer | None = None

    @property
    def url(self) -> str:
        assert self.server is not None, "not started"
        return self.server.url

    def bind(self) -> GatewayServer:
        """Bind the listening socket (raises OSError when the port is taken)."""
        if self.server is None:
            self.server = GatewayServer(self.gateway, self._host, self._port)
        return self.server

    def start(self) -> str:
        """Serve from a background thread; returns the URL."""
        return self.bind().start()

    def reload(self) -> None:
        """Take a rebuilt build: read its manifest again and restart every worker."""
        self.deployment.reload()
        self.pool.restart_all()

    def close(self) -> None:
        if self.server is not None:
            self.server.stop()
            self.server = None
        self.pool.close()
        self.deployment.close()

    def __enter__(self) -> LocalSplit:
        try:
            self.start()
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()
