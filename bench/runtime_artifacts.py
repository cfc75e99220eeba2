"""The artifacts the runtime benchmark runs: fastsplit's zips and hand-made baselines.

Everything is packaged for this machine's Python (its cold starts run here, and native
wheels must load), offline, from a wheelhouse of that Python's Lambda wheels
(``harness.wheelhouse(..., target=LOCAL)``):

* ``fastsplit build`` / ``fastsplit package --target lambda --python 3.X`` under
  ``harness.timed`` (no network; pip sees only the wheelhouse), with a dependency cache
  kept in bench/work between runs (the runtime bench does not time packaging);
* the floor and the lambdalith: ``pip install --target`` of the same wheels (no
  bytecode, as fastsplit ships none), the handler file (and the app's package), zipped
  at fastsplit's compression level, so sizes compare like for like.
"""

from __future__ import annotations

import hashlib
import json
import os
import platform
import shutil
import subprocess
import sys
import zipfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.harness import REPO_ROOT, WORK_ROOT, BenchError, offline_env, timed
from fastsplit.packager.deps import Target
from fastsplit.packager.zipper import LEVEL

# This machine: its cold starts run the artifacts, so native wheels must be for it.
LOCAL = Target(
    python=f"{sys.version_info[0]}.{sys.version_info[1]}",
    arch="arm64" if platform.machine() in ("aarch64", "arm64") else "x86_64",
)
CACHE = WORK_ROOT / "runtime-cache"  # fastsplit's dependency cache, kept between runs
SITES = WORK_ROOT / "runtime-sites"  # pip install --target folders, kept between runs


@dataclass(frozen=True)
class Size:
    zipped: int
    unzipped: int


@dataclass(frozen=True)
class Packaged:
    """``fastsplit package`` output: dist/lambda and its manifest."""

    folder: Path
    manifest: dict[str, Any]

    def zip(self, function: str) -> Path:
        return self.folder / str(self.manifest["functions"][function]["zip"])

    def size(self, function: str) -> Size:
        entry = self.manifest["functions"][function]
        return Size(int(entry["size"]), int(entry["unzipped_size"]))

    def sizes(self) -> dict[str, Size]:
        return {name: self.size(name) for name in self.manifest["functions"]}

    def layer(self) -> Size | None:
        """The shared dependencies' layer (``--layer``), if there is one."""
        entry = self.manifest.get("layer")
        return Size(int(entry["size"]), int(entry["unzipped_size"])) if entry else None


class Artifacts:
    """Builds and packages in ``work``; one log per command under work/logs."""

    def __init__(self, work: Path, *, wheels: Path) -> None:
        self.work = work
        self.wheels = wheels
        self._counter = 0

    def _next(self, name: str) -> str:
        self._counter += 1
        return f"{self._counter:03d}-{name}"

    def _env(self, name: str, pythonpath: Sequence[Path] = ()) -> dict[str, str]:
        env = offline_env(self.work / "homes" / self._next(name))
        # This checkout's fastsplit, not whichever one the venv has installed.
        env["PYTHONPATH"] = os.pathsep.join(str(p) for p in (REPO_ROOT, *pythonpath))
        return env

    def _timed(self, name: str, command: Sequence[object], env: Mapping[str, str]) -> None:
        log = self.work / "logs" / f"{self._next(name)}.log"
        timed(command, cwd=self.work, env=env, log=log, wheelhouse=self.wheels)

    def build(
        self, name: str, app_ref: str, app_dir: Path, *flags: str, pythonpath: Sequence[Path] = ()
    ) -> Path:
        """``fastsplit build --target lambda``; returns the build folder."""
        out = self.work / "builds" / name
        command = [sys.executable, "-m", "fastsplit", "build", app_ref, "--app-dir", app_dir]
        command += ["--out", out, "--target", "lambda", *flags]
        self._timed(f"build-{name}", command, self._env(f"build-{name}", pythonpath))
        return out

    def package(self, name: str, build: Path, requirements: Sequence[str], *flags: str) -> Packaged:
        """``fastsplit package --target lambda`` for this machine's Python."""
        reqs = self.work / f"requirements-{name}.txt"
        reqs.write_text("\n".join(requirements) + "\n", encoding="utf-8")
        out = self.work / "dist" / name
        command = [
            sys.executable, "-m", "fastsplit", "package", "--target", "lambda",
            "--build", build, "--out", out, "--requirements", reqs,
            "--python", LOCAL.python, "--arch", LOCAL.arch, "--cache-dir", CACHE, *flags,
        ]  # fmt: skip
        self._timed(f"package-{name}", command, self._env(f"package-{name}"))
        folder = out / "lambda"
        manifest = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
        return Packaged(folder, manifest)

    def site(self, requirements: Sequence[str], *, bytecode: bool) -> Path:
        """``pip install --target`` of ``requirements`` from the wheelhouse, kept by content.

        Without ``bytecode`` it is what a hand-made zip ships (fastsplit ships no .pyc
        either); with it, it is a fast-importing folder for ``fastsplit build`` to import
        an app whose libraries the dev venv lacks.
        """
        lines = sorted(requirements)
        key = "\n".join([*lines, LOCAL.abi, str(bytecode), self.wheels.name])
        folder = SITES / hashlib.sha256(key.encode()).hexdigest()[:12]
        if (folder / ".complete").is_file():
            return folder
        shutil.rmtree(folder, ignore_errors=True)
        command = [
            sys.executable, "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
            "--no-index", "--find-links", str(self.wheels), "--only-binary=:all:",
            "--target", str(folder), *([] if bytecode else ["--no-compile"]), *lines,
        ]  # fmt: skip
        result = subprocess.run(command, capture_output=True, text=True, check=False)
        if result.returncode != 0:
            raise BenchError(f"pip install --target {folder} failed:\n{result.stderr[-3000:]}")
        (folder / ".complete").write_text("")
        return folder

    def hand_zip(
        self, name: str, *, trees: Sequence[tuple[Path, Path]], handler: str
    ) -> tuple[Path, Size]:
        """A zip as a user makes one by hand: ``handler.py`` and every file under each
        ``(root, folder)`` of ``trees`` (the installed set, the app's package), named
        relative to its root."""
        entries: dict[str, Path] = {}
        for root, folder in trees:
            for path in folder.rglob("*"):
                relative = path.relative_to(root).as_posix()
                if path.is_file() and not _skipped(relative):
                    entries[relative] = path
        artifact = self.work / "hand-zips" / f"{name}.zip"
        artifact.parent.mkdir(parents=True, exist_ok=True)
        unzipped = len(handler.encode())
        with zipfile.ZipFile(artifact, "w", zipfile.ZIP_DEFLATED, compresslevel=LEVEL) as out:
            for relative, path in sorted(entries.items()):  # rglob order is not stable
                out.write(path, relative)
                unzipped += path.stat().st_size
            out.writestr("handler.py", handler)
        return artifact, Size(artifact.stat().st_size, unzipped)


def _skipped(relative: str) -> bool:
    """Bytecode (fastsplit ships none), pip's console scripts, this bench's marker."""
    parts = relative.split("/")
    return (
        "__pycache__" in parts
        or relative.endswith((".pyc", ".pyo"))
        or parts[0] == "bin"
        or relative == ".complete"
    )
