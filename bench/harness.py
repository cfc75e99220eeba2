"""Running and timing the packagers: offline, isolated, each in its own temp HOME.

Every timed command runs under ``unshare --net``: a network namespace of its own where
only loopback is up and ``bench/offline_index.py`` serves a local wheelhouse over HTTP
(``PIP_NO_INDEX=1``, ``PIP_FIND_LINKS=http://127.0.0.1:PORT/``). fastsplit, SAM and
serverless-python-requirements resolve the same wheels from the same place, and nothing
leaves the machine during a measurement. The wheelhouse itself is the one step that uses
the package index, once, before anything is timed; it is kept between runs.
"""

from __future__ import annotations

import hashlib
import os
import platform
import resource
import shutil
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from fastsplit.packager.deps import Target
from tests.tooling import TELEMETRY_OFF, isolated_env

REPO_ROOT = Path(__file__).resolve().parent.parent
WORK_ROOT = REPO_ROOT / "bench" / "work"  # in .gitignore
RESULTS = REPO_ROOT / "bench" / "results.md"
OFFLINE_INDEX = REPO_ROOT / "bench" / "offline_index.py"
TARGET = Target(python="3.12", arch="x86_64")


class BenchError(RuntimeError):
    """A tool is missing or a measured command failed."""


@dataclass(frozen=True)
class Tools:
    """The real packagers, as installed by ``make tools bench-tools``."""

    sam: Path
    osls: Path
    python_bin: Path
    """A folder holding ``python3.12`` (and nothing else), to put first on PATH."""
    schema_cache: Path
    """Shared across runs: osls compiles its config schema once per plugin set."""


def find_tools(work: Path, *, incumbents: bool) -> Tools:
    tools_dir = Path(os.environ.get("FASTSPLIT_TOOLS_DIR") or REPO_ROOT / ".tools")
    bench_node = tools_dir / "bench-node"
    sam = tools_dir / "sam-venv" / "bin" / "sam"
    osls = bench_node / "node_modules" / ".bin" / "osls"
    python_bin = work / "python-bin"
    if incumbents:
        missing = [str(path) for path in (sam, osls) if not path.exists()]
        if missing:
            raise BenchError(
                f"{', '.join(missing)} missing: run `make tools bench-tools` first "
                "(or pass --skip-incumbents)"
            )
        python_bin.mkdir(parents=True, exist_ok=True)
        (python_bin / "python3.12").symlink_to(_python312())
    return Tools(sam, osls, python_bin, bench_node / "cache")


def _python312() -> Path:
    """SAM and serverless-python-requirements run pip with the runtime's own Python.

    A pyenv shim on PATH is no interpreter (it fails without PYENV_VERSION), so each
    candidate is checked by running it: PATH first, then pyenv's installed 3.12.x.
    """
    candidates = [shutil.which("python3.12")]
    pyenv = shutil.which("pyenv")
    if pyenv:
        found = subprocess.run(
            [pyenv, "root"], capture_output=True, text=True, check=False
        ).stdout.strip()
        versions = list(Path(found, "versions").glob("3.12.*")) if found else []
        versions.sort(key=lambda path: [int(p) for p in path.name.split(".") if p.isdigit()])
        candidates += [str(version / "bin" / "python3.12") for version in reversed(versions)]
    for candidate in candidates:
        if candidate and _is_python312(candidate):
            return Path(candidate).resolve()
    raise BenchError(
        "no python3.12 found on PATH or in pyenv (`pyenv install 3.12`); SAM and "
        "serverless-python-requirements need one (or pass --skip-incumbents)"
    )


def _is_python312(path: str) -> bool:
    check = "import sys; sys.exit(sys.version_info[:2] != (3, 12))"
    try:
        result = subprocess.run(
            [path, "-c", check], capture_output=True, check=False, timeout=30,
            env={k: v for k, v in os.environ.items() if k != "PYENV_VERSION"},
        )  # fmt: skip
    except (OSError, subprocess.TimeoutExpired):
        return False
    return result.returncode == 0


def no_network() -> list[str]:
    """Command prefix for a fresh network namespace (no interface up until offline_index)."""
    unshare = shutil.which("unshare")
    if unshare is None:
        raise BenchError("`unshare` (util-linux) is needed to run the tools without network")
    return [unshare, "--net"] if os.geteuid() == 0 else [unshare, "--map-root-user", "--net"]


def offline_env(home: Path, tools: Tools | None = None) -> dict[str, str]:
    """HOME and caches under ``home``, telemetry off; with ``tools``, python3.12 on PATH."""
    env = isolated_env(home)
    env.update(TELEMETRY_OFF)
    env["PIP_NO_INPUT"] = "1"
    env.pop("VIRTUAL_ENV", None)
    if tools is not None:
        env["PATH"] = os.pathsep.join([str(tools.python_bin), env.get("PATH", os.defpath)])
        env["SLS_SCHEMA_CACHE_BASE_DIR"] = str(tools.schema_cache)
    return env


@dataclass(frozen=True)
class Sample:
    wall: float
    """Seconds from start to exit."""
    cpu: float
    """User + system seconds of the command and every process it waited for."""
    user: float = 0.0
    """The user part of ``cpu``: the commands' own work, without the kernel's (copying
    bytes into files, allocating and freeing their blocks)."""


def timed(
    command: Sequence[object],
    *,
    cwd: Path,
    env: Mapping[str, str],
    log: Path,
    wheelhouse: Path,
) -> Sample:
    """Run ``command`` without network, pip served ``wheelhouse`` only, and time it.

    Output goes to ``log``; a failure raises :class:`BenchError` with the log's tail.
    CPU time is read from this process's reaped children, so commands must not overlap.
    """
    index = [sys.executable, str(OFFLINE_INDEX), str(wheelhouse), "--"]
    argv = [*no_network(), *index, *(str(part) for part in command)]
    log.parent.mkdir(parents=True, exist_ok=True)
    with log.open("w") as out:
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        start = time.perf_counter()
        result = subprocess.run(
            argv, cwd=cwd, env=dict(env), stdin=subprocess.DEVNULL, stdout=out,
            stderr=subprocess.STDOUT, check=False,
        )  # fmt: skip
        wall = time.perf_counter() - start
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if result.returncode != 0:
        tail = "\n".join(log.read_text(errors="replace").splitlines()[-25:])
        raise BenchError(f"{' '.join(argv)} (in {cwd}) exited {result.returncode}:\n{tail}")
    user = after.ru_utime - before.ru_utime
    return Sample(wall, user + (after.ru_stime - before.ru_stime), user)


def wheelhouse(requirement_sets: Sequence[Sequence[str]], target: Target = TARGET) -> Path:
    """A folder of wheels for every set, for Lambda's platform, downloaded once and kept.

    Uses the machine's pip configuration (the package index): the only networked step.
    Tagged with fastsplit's own platform list (manylinux2014 up to the runtime's glibc),
    which also covers what SAM and the host pip of serverless-python-requirements accept.
    ``target`` picks the Python (the runtime bench runs the artifacts on this machine's
    interpreter, so it asks for that version's wheels).
    """
    lines = sorted({line for group in requirement_sets for line in group})
    # Two Pythons can share a platform list (3.12 and 3.13), so other targets add their
    # ABI to the key; the default target's key is unchanged (its wheelhouses stay valid).
    key = [*lines, *target.platforms()] + ([] if target == TARGET else [target.abi])
    digest = hashlib.sha256("\n".join(key).encode()).hexdigest()[:12]
    folder = WORK_ROOT / f"wheelhouse-{digest}"
    if (folder / ".complete").is_file():
        return folder
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    (folder / "requirements.txt").write_text("\n".join(lines) + "\n", encoding="utf-8")
    command = [
        sys.executable, "-m", "pip", "download", "--quiet", "--disable-pip-version-check",
        "--dest", str(folder), "--only-binary=:all:", "--implementation", "cp",
        "--python-version", target.python, "--abi", target.abi,
        *(arg for tag in target.platforms() for arg in ("--platform", tag)),
        "-r", str(folder / "requirements.txt"),
    ]  # fmt: skip
    result = subprocess.run(command, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise BenchError(f"building the wheelhouse failed:\n{result.stderr[-3000:]}")
    (folder / "requirements.txt").unlink()
    (folder / ".complete").write_text("")
    return folder


def machine(target: Target = TARGET) -> str:
    """One line about where the numbers come from."""
    cpu = ""
    with open("/proc/cpuinfo", encoding="utf-8") as info:
        for line in info:
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    memory = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    return (
        f"{os.cpu_count()} cores ({cpu or platform.machine()}), {memory:.0f} GiB, "
        f"{platform.system()} {platform.release()}, Python {platform.python_version()} "
        f"(fastsplit), target python{target.python} {target.arch}"
    )
