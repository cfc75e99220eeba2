"""The wheel is complete: built by pypa/build, installed with its real dependencies into a
fresh venv, its ``fastsplit`` command builds example_app from outside the checkout.

Run from a folder outside the repository, the installed fastsplit can only find its
templates and runtime inside the wheel (``fastsplit/templates``, ``fastsplit/runtime.py``);
a file missing from ``[tool.hatch.build]`` fails here, never in a user's install.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import zipfile
from collections.abc import Sequence
from pathlib import Path

import pytest

from fastsplit import __version__

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parent.parent
CONSTRAINTS = REPO / "requirements" / "constraints.txt"
SHIPPED = {
    "fastsplit/templates/handler.py.jinja": REPO / "templates" / "handler.py.jinja",
    "fastsplit/templates/fallback.py.jinja": REPO / "templates" / "fallback.py.jinja",
    "fastsplit/runtime.py": REPO / "fastsplit" / "runtime.py",
}


def _env() -> dict[str, str]:
    """This process's environment without what would point Python back at the checkout
    or the dev venv. HOME stays, so pip keeps its configuration (local indexes) and cache."""
    drop = {"PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV"}
    return {name: value for name, value in os.environ.items() if name not in drop}


def _run(args: Sequence[str | Path], *, cwd: Path, timeout: float = 300) -> str:
    result = subprocess.run(
        [str(arg) for arg in args],
        cwd=cwd,
        env=_env(),
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    assert result.returncode == 0, (
        f"{' '.join(map(str, args))} exited {result.returncode}\n"
        f"--- stdout\n{result.stdout}\n--- stderr\n{result.stderr}"
    )
    return result.stdout


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The wheel, built in an isolated build env (hatchling from the configured indexes)."""
    outdir = tmp_path_factory.mktemp("dist")
    _run([sys.executable, "-m", "build", "--wheel", "--outdir", outdir, REPO], cwd=outdir)
    wheels = sorted(outdir.glob("*.whl"))
    assert len(wheels) == 1, wheels
    return wheels[0]


@pytest.fixture(scope="module")
def venv(wheel: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fresh venv with the wheel and its dependencies (resolved from the wheel's
    metadata, held at the dev pins so the run is reproducible)."""
    root = tmp_path_factory.mktemp("venv")
    # No ensurepip (about 6 s): the dev venv's pip installs into it through --python.
    _run([sys.executable, "-m", "venv", "--without-pip", root], cwd=root)
    pip: list[str | Path] = [sys.executable, "-m", "pip", "--python", root / "bin" / "python"]
    _run([*pip, "install", "--quiet", "-c", CONSTRAINTS, wheel], cwd=root)
    _run([*pip, "check"], cwd=root)
    return root


def test_wheel_ships_templates_and_runtime(wheel: Path) -> None:
    with zipfile.ZipFile(wheel) as archive:
        names = set(archive.namelist())
        for name, source in SHIPPED.items():
            assert name in names, f"{name} is missing from {wheel.name}"
            assert archive.read(name) == source.read_bytes(), f"{name} differs from {source}"
    dist_info = f"fastsplit-{__version__}.dist-info/"
    strays = sorted(n for n in names if not n.startswith(("fastsplit/", dist_info)))
    assert strays == [], "the wheel must hold only the fastsplit package"


def test_installed_wheel_reports_its_version(venv: Path, tmp_path: Path) -> None:
    assert _run([venv / "bin" / "fastsplit", "--version"], cwd=tmp_path) == (
        f"fastsplit {__version__}\n"
    )


def test_installed_wheel_builds_example_app(
    venv: Path, tmp_path: Path, example_build: Path
) -> None:
    assert not tmp_path.is_relative_to(REPO)
    python = venv / "bin" / "python"
    templates = _run(
        [python, "-c", "from fastsplit.templating import templates_dir; print(templates_dir())"],
        cwd=tmp_path,
    )
    assert Path(templates.strip()).is_relative_to(venv), "templates must come from the wheel"

    out = tmp_path / "out"
    build_args: list[str | Path] = ["example_app.main:app", "--app-dir", REPO, "--out", out]
    # Lambda only, like the library build it is compared with (--target all adds vercel/).
    build_args += ["--target", "lambda"]
    _run([venv / "bin" / "fastsplit", "build", *build_args], cwd=tmp_path)

    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["functions"], "the manifest lists no functions"
    for function in manifest["functions"]:
        handler = out / function["folder"] / "handler.py"
        assert handler.is_file(), f"{function['name']}: {handler} is missing"
        compile(handler.read_text(encoding="utf-8"), str(handler), "exec")
    # The installed wheel and the checkout generate the very same build.
    assert _tree(out) == _tree(example_build)


def _tree(root: Path) -> dict[str, bytes]:
    return {
        path.relative_to(root).as_posix(): path.read_bytes()
        for path in sorted(root.rglob("*"))
        if path.is_file()
    }
