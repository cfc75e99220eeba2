"""Third-party dependencies: which requirements, installed once per dependency set.

A dependency set is (requirements, Python version, architecture, platform tags). It is
installed with pip for the *target* platform (manylinux wheels only, never a native
build for this machine) into a cache folder keyed by a hash of the set, and reused by
every function and every later run: a warm run does no network and no install.

pip runs as a subprocess of this interpreter, so it honours the user's pip configuration
(``PIP_INDEX_URL``, ``PIP_EXTRA_INDEX_URL``, ``PIP_FIND_LINKS``, ``PIP_NO_INDEX``,
pip.conf): private indexes and offline wheelhouses work as they do for ``pip install``.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import tomllib
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

from fastsplit.errors import FastsplitError

CACHE_VERSION = "2"
# Newest glibc of the Lambda images: python3.10/3.11 run on Amazon Linux 2 (glibc 2.26),
# python3.12+ on Amazon Linux 2023 (glibc 2.34).
GLIBC = {"3.10": 26, "3.11": 26, "3.12": 34, "3.13": 34, "3.14": 34}
MACHINE = {"x86_64": "x86_64", "arm64": "aarch64"}
# What the Lambda Python runtime already provides: left out unless asked for.
RUNTIME_PROVIDED = ("boto3", "botocore", "s3transfer")
_NAME = re.compile(r"^\s*([A-Za-z0-9][A-Za-z0-9._-]*)")


class PackageError(FastsplitError):
    """Packaging failed (requirements, install, size limits)."""


@dataclass(frozen=True)
class Target:
    """The Lambda platform to build for."""

    python: str = "3.12"
    arch: str = "x86_64"

    def platforms(self) -> list[str]:
        machine = MACHINE[self.arch]
        tags = [f"manylinux2014_{machine}"]
        tags += [f"manylinux_2_{minor}_{machine}" for minor in range(17, GLIBC[self.python] + 1)]
        return tags

    @property
    def abi(self) -> str:
        return "cp" + self.python.replace(".", "")

    def describe(self) -> str:
        return f"Python {self.python} on manylinux {self.arch}"


@dataclass(frozen=True)
class DependencySet:
    requirements: tuple[str, ...]
    target: Target

    @property
    def key(self) -> str:
        data = {
            "version": CACHE_VERSION,
            "requirements": sorted(self.requirements),
            "python": self.target.python,
            "arch": self.target.arch,
            "platforms": self.target.platforms(),
        }
        return hashlib.sha256(json.dumps(data, sort_keys=True).encode()).hexdigest()[:24]


def read_requirements(
    *, requirements_file: Path | None, project_dir: Path, include_runtime: bool = False
) -> tuple[str, ...]:
    """The project's requirements plus what generated code needs (mangum).

    From ``requirements_file`` if given, else ``requirements.txt`` next to the project's
    pyproject.toml, else ``[project] dependencies``.
    """
    lines: list[str]
    if requirements_file is not None:
        if not requirements_file.is_file():
            raise PackageError(
                f"requirements file {requirements_file} does not exist; "
                "check --requirements or create it"
            )
        lines = requirement_lines(requirements_file)
    elif (project_dir / "requirements.txt").is_file():
        lines = requirement_lines(project_dir / "requirements.txt")
    else:
        lines = _pyproject_dependencies(project_dir / "pyproject.toml")
    names = {_name(line) for line in lines}
    if "mangum" not in names:
        # The generated handlers run on mangum: pin the version they were tested with.
        lines.append(f"mangum=={metadata.version('mangum')}")
    if not include_runtime:
        lines = [line for line in lines if _name(line) not in RUNTIME_PROVIDED]
    return tuple(dict.fromkeys(lines))  # a requirement listed twice is installed once


def requirement_lines(path: Path) -> list[str]:
    """Logical requirement lines: comments dropped, backslash continuations joined (so a
    requirement keeps its ``--hash`` options)."""
    lines = []
    text = re.sub(r"\\\n", " ", path.read_text(encoding="utf-8"))
    for raw in text.splitlines():
        line = " ".join(raw.split(" #", 1)[0].split())
        if not line or line.startswith("#"):
            continue
        if line.startswith(("-r", "-c", "--requirement", "--constraint")):
            raise PackageError(
                f"{path}: nested requirement files ({line.split()[0]}) are not supported; "
                "list the requirements in one file"
            )
        lines.append(line)
    return lines


def _pyproject_dependencies(path: Path) -> list[str]:
    if not path.is_file():
        return []
    data = tomllib.loads(path.read_text(encoding="utf-8"))
    dependencies = data.get("project", {}).get("dependencies", [])
    return [str(dep) for dep in dependencies]


def _name(line: str) -> str:
    match = _NAME.match(line)
    return re.sub(r"[-_.]+", "-", match.group(1)).lower() if match else ""


@dataclass(frozen=True)
class Installed:
    path: Path
    """Folder holding the installed packages (the root of ``sys.path``)."""
    from_cache: bool


def default_cache_dir() -> Path:
    if "FASTSPLIT_CACHE_DIR" in os.environ:
        return Path(os.environ["FASTSPLIT_CACHE_DIR"])
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "fastsplit"


def install(dependencies: DependencySet, *, cache_dir: Path) -> Installed:
    """Install the set into the cache (once), returning where it is."""
    final = cache_dir / "deps" / dependencies.key
    if (final / ".complete").is_file():
        return Installed(final / "site", from_cache=True)
    final.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f"{dependencies.key}.tmp-", dir=final.parent))
    try:
        requirements = staging / "requirements.txt"
        requirements.write_text("\n".join(dependencies.requirements) + "\n", encoding="utf-8")
        _pip_install(requirements, staging / "site", dependencies.target)
        (staging / ".complete").write_text("")
        try:
            os.replace(staging, final)
        except OSError:
            # Another run installed the same set meanwhile: use theirs.
            if not (final / ".complete").is_file():
                raise
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return Installed(final / "site", from_cache=False)


def _pip_install(requirements: Path, target_dir: Path, target: Target) -> None:
    command = [
        sys.executable, "-m", "pip", "install",
        "--target", str(target_dir),
        "--no-compile", "--disable-pip-version-check", "--no-input",
        "--only-binary=:all:",
        "--implementation", "cp",
        "--python-version", target.python,
        "--abi", target.abi,
        *(arg for tag in target.platforms() for arg in ("--platform", tag)),
        "-r", str(requirements),
    ]  # fmt: skip
    result = subprocess.run(command, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise PackageError(_pip_error(result.stderr + result.stdout, target))
    _drop_scripts(target_dir)


def _drop_scripts(site: Path) -> None:
    """Remove console scripts: useless in Lambda, and their shebang names this machine's
    interpreter, so they (and the RECORD lines hashing them) would make zips depend on
    where fastsplit runs."""
    shutil.rmtree(site / "bin", ignore_errors=True)
    for record in sorted(site.glob("*.dist-info/RECORD")):
        lines = record.read_text(encoding="utf-8").splitlines(keepends=True)
        kept = [line for line in lines if not line.startswith("../../bin/")]
        if kept != lines:
            record.write_text("".join(kept), encoding="utf-8")


def _pip_error(output: str, target: Target) -> str:
    missing = re.search(r"No matching distribution found for (\S+)", output)
    if missing:
        requirement = missing.group(1)
        return (
            f"cannot install {requirement!r} for {target.describe()}: no matching wheel "
            "(check the name and version, and that it publishes manylinux wheels for this "
            "Python and architecture)"
        )
    lines = [line for line in output.splitlines() if line.startswith("ERROR")]
    detail = lines[-1] if lines else (output.strip().splitlines() or ["pip failed"])[-1]
    return f"installing dependencies for {target.describe()} failed: {detail}"
