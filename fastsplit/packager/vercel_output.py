"""``fastsplit package --target vercel``: a Build Output API v3 tree for ``vercel deploy
--prebuilt``, made by the real ``vercel build``.

The Vercel CLI builds a copy of ``build/vercel/`` (it writes ``pyproject.toml``,
``uv.lock`` and a venv into the folder it builds). Its Python builder installs the
requirements with uv, adds Vercel's own runtime package (``vercel-runtime``, into each
function's ``_vendor/``) and writes one ``functions/api/<name>.func`` per function, whose
``.vc-config.json`` maps most files back into the folder it built (``filePathMap``).
Those files are then put into each ``.func`` (hard links where possible), which makes
every function self-contained, as ``vercel build --standalone`` does: that flag copies
from the shared venv while the next function's ``uv sync`` rewrites it, and loses files
when a project has more than a few functions. Everything else is the CLI's output as is.

Knows nothing of FastAPI; the only I/O helper for ``build`` is :func:`project_requirements`.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any

from fastsplit import __version__
from fastsplit.packager.deps import PackageError, requirement_lines
from fastsplit.writer import check_out_dir, swap_in

OUTPUT = Path(".vercel") / "output"
UNLINKED_PROJECT = {"settings": {"framework": None}}
"""``.vercel/project.json`` for a folder not linked to a Vercel project: ``vercel build``
needs the project settings, and these are the ones vercel.json already pins."""


@dataclass(frozen=True)
class Options:
    project: Path
    """The Vercel project folder that ``fastsplit build`` wrote (``build/vercel``)."""
    out: Path
    """Where the tree goes: ``out/.vercel/output`` (``dist/vercel``)."""
    vercel: Sequence[str] = ("vercel",)
    """The command that runs the Vercel CLI."""
    prod: bool = False
    """Build for production (``vercel deploy --prebuilt --prod``)."""
    env: Mapping[str, str] | None = None
    """Environment of the CLI (default: this process's)."""
    timeout: float = 900.0


@dataclass(frozen=True)
class Result:
    functions: tuple[str, ...]
    """The ``.func`` folders, relative to ``out/.vercel/output/functions``."""
    output: Path


def package(options: Options) -> Result:
    """Run ``vercel build`` on a copy of the project and write the standalone tree."""
    if not (options.project / "vercel.json").is_file():
        raise PackageError(
            f"no Vercel project in {options.project}; run `fastsplit build --target vercel` first"
        )
    check_out_dir(options.out)
    options.out.absolute().parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{options.out.name}.tmp-", dir=options.out.parent))
    try:
        source = staging / "project"
        # The CLI writes pyproject.toml, uv.lock and .vercel/ into what it builds.
        shutil.copytree(options.project, source, symlinks=True)
        if not (source / ".vercel" / "project.json").is_file():
            (source / ".vercel").mkdir(exist_ok=True)
            (source / ".vercel" / "project.json").write_text(json.dumps(UNLINKED_PROJECT))
        _run_vercel_build(options, source)
        tree = staging / "out"
        tree.mkdir()
        (tree / ".vercel").mkdir()
        os.replace(source / OUTPUT, tree / OUTPUT)
        functions = tuple(make_standalone(tree / OUTPUT, source))
        shutil.rmtree(source)
        _write_manifest(tree, functions, options)
        swap_in(tree, options.out)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return Result(functions, options.out / OUTPUT)


def _run_vercel_build(options: Options, source: Path) -> None:
    command = [*options.vercel, "build", "--yes", *(["--prod"] if options.prod else [])]
    env = dict(os.environ if options.env is None else options.env)
    env.setdefault("VERCEL_TELEMETRY_DISABLED", "1")
    env.setdefault("NO_UPDATE_NOTIFIER", "1")
    try:
        result = subprocess.run(
            command,
            cwd=source,
            env=env,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=options.timeout,
            check=False,
        )
    except FileNotFoundError:
        raise PackageError(
            f"cannot run the Vercel CLI ({command[0]!r} not found); install it "
            "(npm i -g vercel@58.10.0) or pass --vercel"
        ) from None
    except subprocess.TimeoutExpired:
        raise PackageError(f"`vercel build` did not finish in {options.timeout:.0f} s") from None
    if result.returncode != 0 or not (source / OUTPUT / "config.json").is_file():
        output = (result.stdout + result.stderr).strip().splitlines()
        tail = "\n".join(output[-15:])
        raise PackageError(f"`vercel build` failed (exit {result.returncode}):\n{tail}")


def make_standalone(output: Path, source: Path) -> list[str]:
    """Put the files each ``.func`` maps from ``source`` into it; returns the functions."""
    functions = []
    for config_path in sorted((output / "functions").rglob(".vc-config.json")):
        func = config_path.parent
        config: dict[str, Any] = json.loads(config_path.read_text(encoding="utf-8"))
        for inside, outside in sorted(config.pop("filePathMap", {}).items()):
            _place(source / outside, func / inside)
        config_path.write_text(json.dumps(config, indent=2, ensure_ascii=False) + "\n")
        functions.append(func.relative_to(output / "functions").as_posix())
    return functions


def _place(source: Path, target: Path) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    if source.is_symlink():
        target.symlink_to(os.readlink(source))
        return
    try:
        os.link(source, target)
    except OSError:
        shutil.copy2(source, target)


def _write_manifest(tree: Path, functions: Sequence[str], options: Options) -> None:
    """Marks the folder as fastsplit's (so a later run may replace it) and lists it."""
    data = {
        "fastsplit_version": __version__,
        "target": "vercel",
        "prod": options.prod,
        "output": OUTPUT.as_posix(),
        "functions": list(functions),
    }
    text = json.dumps(data, sort_keys=True, indent=2) + "\n"
    (tree / "manifest.json").write_text(text, encoding="utf-8")


# --- the app's requirements, for `fastsplit build` -------------------------------------


def project_requirements(*, requirements_file: Path | None, project_dir: Path) -> tuple[str, ...]:
    """The app's requirements, found as the Lambda packager finds them
    (``requirements_file``, else ``requirements.txt`` next to pyproject.toml, else
    ``[project] dependencies``) but without mangum, which only the Lambda handlers use.
    With none found, the FastAPI that fastsplit runs with (the one the app was split
    with), pinned."""
    if requirements_file is not None:
        if not requirements_file.is_file():
            raise PackageError(
                f"requirements file {requirements_file} does not exist; "
                "check --requirements or create it"
            )
        return _requirement_lines(requirements_file)
    if (project_dir / "requirements.txt").is_file():
        return _requirement_lines(project_dir / "requirements.txt")
    pyproject = project_dir / "pyproject.toml"
    if pyproject.is_file():
        data = tomllib.loads(pyproject.read_text(encoding="utf-8"))
        dependencies = tuple(str(dep) for dep in data.get("project", {}).get("dependencies", []))
        if dependencies:
            return dependencies
    return (f"fastapi=={metadata.version('fastapi')}",)


def _requirement_lines(path: Path) -> tuple[str, ...]:
    # The same reading as Lambda packaging (comments, continuations, no nested files).
    return tuple(dict.fromkeys(requirement_lines(path)))
