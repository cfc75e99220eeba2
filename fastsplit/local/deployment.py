"""A split app to run locally: the build's route table and each function's code.

``--from build`` runs ``build/functions/<name>/`` with the interpreter's site-packages
for third-party packages; ``--from dist`` runs the zip ``fastsplit package`` made,
unzipped, with nothing else on ``sys.path``: a file missing from the artifact fails
here, not in production. Either way the routes come from the build's ``manifest.json``.
"""

from __future__ import annotations

import calendar
import contextlib
import functools
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import zipfile
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any, Literal

from fastsplit.errors import FastsplitError
from fastsplit.gateway import GatewayRoute, routes_from_manifest

Source = Literal["build", "dist"]
_MACHINES = {"x86_64": ("x86_64", "amd64"), "arm64": ("arm64", "aarch64")}


class LocalError(FastsplitError):
    """Running the split locally is impossible as asked (no build, wrong interpreter...)."""


@dataclass(frozen=True)
class LocalFunction:
    """What a local run needs to know about one function of the manifest."""

    name: str
    kind: str
    routes: tuple[GatewayRoute, ...]
    handler: str = "handler.handler"
    timeout: int = 29
    memory: int = 512
    environment: dict[str, str] = field(default_factory=dict, hash=False)


def read_build_manifest(build: Path) -> dict[str, Any]:
    try:
        data = json.loads((build / "manifest.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        raise LocalError(
            f"no fastsplit build in {build}; run `fastsplit build APP --out {build}` first"
        ) from None
    if not isinstance(data, dict) or not isinstance(data.get("functions"), list):
        raise LocalError(f"{build}/manifest.json is not a fastsplit build manifest; rebuild")
    return data


class Deployment:
    """The functions of a build and where each one's code is (extracted on demand)."""

    def __init__(
        self,
        build: Path,
        *,
        source: Source = "build",
        dist: Path | None = None,
        python: str | None = None,
    ) -> None:
        self.build = build.absolute()
        self.source: Source = source
        self.python = python or sys.executable
        self.manifest: dict[str, Any] = {}
        self.routes: list[GatewayRoute] = []
        self.functions: dict[str, LocalFunction] = {}
        self.reload()
        self.service = str(self.manifest.get("service", "local"))
        self.stage = str(self.manifest.get("stage", "dev"))
        self.region = str(self.manifest.get("region", "us-east-1"))
        self._zips: dict[str, Path] = {}
        self._extracted: dict[str, Path] = {}
        self._unzipping: dict[str, threading.Lock] = {}
        self._lock = threading.Lock()
        self._tmp: Path | None = None
        if source == "dist":
            self._zips = self._check_dist((dist or Path("dist/lambda")).absolute())

    def reload(self) -> None:
        """Read the build's manifest again (after a rebuild)."""
        manifest = read_build_manifest(self.build)
        routes = routes_from_manifest(manifest)
        self.functions = {f.name: f for f in _functions(manifest, routes)}
        self.manifest, self.routes = manifest, routes

    @property
    def app(self) -> str:
        return str(self.manifest.get("app", ""))

    def function(self, name: str) -> LocalFunction:
        try:
            return self.functions[name]
        except KeyError:
            known = ", ".join(sorted(self.functions))
            raise LocalError(f"no function {name!r} in {self.build}; functions: {known}") from None

    def code_root(self, name: str) -> Path:
        """The folder the function runs from (its /var/task)."""
        self.function(name)
        if self.source == "build":
            return self.build / "functions" / name
        with self._lock:
            if self._tmp is None:
                self._tmp = Path(tempfile.mkdtemp(prefix="fastsplit-local-"))
            tmp = self._tmp
            lock = self._unzipping.setdefault(name, threading.Lock())
        with lock:  # one function's unzip does not wait for another's
            if name not in self._extracted:
                target = tmp / "functions" / name
                _extract(self._zips[name], target, store=tmp / "store")
                self._extracted[name] = target
            return self._extracted[name]

    def search_path(self) -> tuple[str, ...]:
        """``sys.path`` entries after the code root and the standard library.

        A build gets the interpreter's site-packages for its third-party packages (their
        ``.pth`` files are not run, so an editable install of the app itself does not
        leak in); an artifact gets nothing: it must carry all it needs, as on Lambda.
        """
        if self.source == "dist":
            return ()
        return _interpreter(self.python).site_packages

    def close(self) -> None:
        """Remove unzipped artifacts."""
        with self._lock:
            if self._tmp is not None:
                shutil.rmtree(self._tmp, ignore_errors=True)
            self._tmp = None
            self._extracted.clear()

    def _check_dist(self, dist: Path) -> dict[str, Path]:
        try:
            data = json.loads((dist / "manifest.json").read_text(encoding="utf-8"))
        except (OSError, ValueError):
            raise LocalError(
                f"no packaged functions in {dist}; run `fastsplit package --build "
                f"{self.build}` first"
            ) from None
        if data.get("app") != self.app:
            raise LocalError(
                f"{dist} was packaged from {data.get('app')!r}, but {self.build} is a build "
                f"of {self.app!r}; package this build again"
            )
        zips: dict[str, Path] = {}
        packaged = data.get("functions") or {}
        for name in self.functions:
            entry = packaged.get(name)
            if not isinstance(entry, dict) or not (dist / str(entry.get("zip"))).is_file():
                raise LocalError(
                    f"function {name} has no zip in {dist}; run `fastsplit package` again"
                )
            zips[name] = dist / str(entry["zip"])
        if data.get("layer"):
            raise LocalError(
                f"{dist} puts the dependencies in a layer, which local runs do not support "
                "yet; package without --layer"
            )
        target = data.get("target") or {}
        self._check_interpreter(str(target.get("python", "")), str(target.get("arch", "")))
        return zips

    def _check_interpreter(self, python: str, arch: str) -> None:
        """An artifact's compiled packages only load on the Python and CPU it was made for."""
        found = _interpreter(self.python)
        version, machine = found.version, found.machine
        if python and version != python:
            raise LocalError(
                f"the artifacts were packaged for Python {python} but {self.python} is "
                f"Python {version}; pass --python with a Python {python} interpreter, or "
                f"package with --python {version}"
            )
        if arch and machine.lower() not in _MACHINES.get(arch, (arch,)):
            raise LocalError(
                f"the artifacts were packaged for {arch} but this machine is {machine}; "
                "package for this machine's architecture to run them locally"
            )


def _extract(archive_path: Path, target: Path, *, store: Path) -> None:
    """Unzip as Lambda does: modes and modification times from the zip (a static file's
    ETag and Last-Modified come from them), read-only like /var/task.

    Functions' artifacts share most of their bytes (the dependencies): a file is
    unpacked once into ``store`` and hard-linked into every folder whose zip holds the
    very same entry. Each folder still holds exactly the files of its own zip.
    """
    with zipfile.ZipFile(archive_path) as archive:
        for info in archive.infolist():
            parts = PurePosixPath(info.filename).parts
            if info.filename.startswith("/") or ".." in parts:
                raise LocalError(f"{archive_path.name}: unsafe path {info.filename!r} in the zip")
            path = target.joinpath(*parts)
            if info.is_dir():
                path.mkdir(parents=True, exist_ok=True)
                continue
            identity = f"{info.filename}\0{info.CRC}\0{info.file_size}\0{info.external_attr}"
            key = hashlib.sha256(f"{identity}\0{info.date_time}".encode()).hexdigest()
            shared = store / key[:2] / key
            if not shared.exists():
                shared.parent.mkdir(parents=True, exist_ok=True)
                partial = shared.with_name(f"{key}.{os.getpid()}.{threading.get_ident()}")
                with archive.open(info) as source, partial.open("wb") as sink:
                    shutil.copyfileobj(source, sink)
                partial.chmod(((info.external_attr >> 16) & 0o777 or 0o644) & ~0o222)
                stamp = calendar.timegm((*info.date_time, 0, 0, 0))
                os.utime(partial, (stamp, stamp))
                # First one wins, and is never replaced: linking to a name that another
                # thread renames over can fail (the old inode is gone meanwhile).
                with contextlib.suppress(FileExistsError):
                    os.link(partial, shared)
                partial.unlink()
            path.parent.mkdir(parents=True, exist_ok=True)
            os.link(shared, path)


@dataclass(frozen=True)
class _Interpreter:
    version: str
    machine: str
    site_packages: tuple[str, ...]


_PROBE = """
import json, os, platform, site, sys
paths = list(site.getsitepackages())
user = site.getusersitepackages()
if site.ENABLE_USER_SITE and os.path.isdir(user):
    paths.append(user)
version = "%d.%d" % sys.version_info[:2]
print(json.dumps({"version": version, "machine": platform.machine(), "site": paths}))
"""


@functools.cache
def _interpreter(python: str) -> _Interpreter:
    """Version, CPU and site-packages of the interpreter that runs the functions."""
    try:
        result = subprocess.run(
            [python, "-c", _PROBE], capture_output=True, text=True, timeout=60, check=True
        )
        data = json.loads(result.stdout)
    except (OSError, ValueError, subprocess.SubprocessError):
        raise LocalError(f"--python {python} is not a working Python interpreter") from None
    return _Interpreter(data["version"], data["machine"], tuple(data["site"]))


def _functions(manifest: dict[str, Any], routes: list[GatewayRoute]) -> list[LocalFunction]:
    functions = []
    for entry in manifest["functions"]:
        settings = entry.get("settings") or {}
        name = str(entry["name"])
        functions.append(
            LocalFunction(
                name=name,
                kind=str(entry.get("kind", "route")),
                routes=tuple(route for route in routes if route.function == name),
                handler=str(entry.get("handler", "handler.handler")),
                timeout=int(settings.get("timeout", 29)),
                memory=int(settings.get("memory", 512)),
                environment={
                    str(k): str(v) for k, v in (settings.get("environment") or {}).items()
                },
            )
        )
    return functions
