"""The packager (``fastsplit.packager``): deterministic zips, the dependency cache, target
platforms, layers, excludes, limits, and the configs that point at the zips.

Everything runs for real: pip installs wheels for the target platform (from this
machine's indexes and PyPI), zips are opened and compared byte for byte, and the deploy
tools (``tools`` tests) read the packaged configs. One dependency cache is shared by the
whole session (and by the xdist workers: installs are atomic), so only the first test
that needs a dependency set pays for its install; tests that must see a cold cache make
their own.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import shutil
import subprocess
import sys
import textwrap
import time
import zipfile
from dataclasses import replace
from importlib import metadata
from pathlib import Path
from typing import Any

import pytest
import yaml

from fastsplit.config import Config
from fastsplit.packager import (
    Options,
    PackageError,
    Result,
    Target,
    lambda_zip,
    package,
    read_manifest,
)
from fastsplit.packager.deps import read_requirements
from fastsplit.packager.lambda_zip import target_from_manifest
from fastsplit.packager.zipper import date_time
from tests.conftest import APPS, REPO, build_to
from tests.tooling import (
    describe,
    isolated_env,
    run_osls_package,
    sam_validate,
    tool,
    tools_dir,
)

EXAMPLE_REQUIREMENTS = REPO / "example_app" / "requirements.txt"
LOCAL = Target(python="3.11", arch="x86_64")
ZIP_EPOCH_DATE = (1980, 1, 1, 0, 0, 0)
EM_X86_64, EM_AARCH64 = 62, 183  # ELF e_machine
RUNTIME_PROVIDED_TOPS = ("boto3", "botocore", "s3transfer")


# --------------------------------------------------------------------------- helpers


def shared_cache(factory: pytest.TempPathFactory) -> Path:
    """The session's dependency cache; xdist workers share their parent temp folder."""
    base = factory.getbasetemp()
    if os.environ.get("PYTEST_XDIST_WORKER"):
        base = base.parent
    path = base / "fastsplit-dependency-cache"
    path.mkdir(exist_ok=True)
    return path


def options(build: Path, out: Path, cache: Path, **changes: Any) -> Options:
    """Options as `fastsplit package` builds them, for Python 3.11 on x86_64 by default."""
    base = Options(
        build=build,
        out=out,
        target=LOCAL,
        project_dir=REPO,
        cache_dir=cache,
        requirements_file=EXAMPLE_REQUIREMENTS,
    )
    return replace(base, **changes)


def snapshot(folder: Path) -> dict[str, bytes]:
    """Every file under ``folder`` (relative POSIX path → bytes)."""
    return {
        path.relative_to(folder).as_posix(): path.read_bytes()
        for path in sorted(folder.rglob("*"))
        if path.is_file()
    }


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def own_files(function_dir: Path) -> list[str]:
    """The files of a built function folder, as zip entry names."""
    return sorted(
        path.relative_to(function_dir).as_posix()
        for path in function_dir.rglob("*")
        if path.is_file()
    )


def zip_names(path: Path) -> list[str]:
    with zipfile.ZipFile(path) as archive:
        return archive.namelist()


def private_cache(shared: Path, key: str, tmp_path: Path) -> Path:
    """A copy of one installed dependency set, free to be touched and pruned."""
    cache = tmp_path / "private-cache"
    shutil.copytree(shared / "deps" / key, cache / "deps" / key, symlinks=True)
    return cache


def counting_subprocesses(monkeypatch: pytest.MonkeyPatch) -> list[list[str]]:
    """Record every command the packager runs (still running it for real: pip)."""
    calls: list[list[str]] = []
    real_run = subprocess.run

    def run(command: Any, *args: Any, **kwargs: Any) -> Any:
        calls.append([str(part) for part in command])
        return real_run(command, *args, **kwargs)

    monkeypatch.setattr("fastsplit.packager.deps.subprocess.run", run)
    return calls


def elf_machine(data: bytes) -> int:
    assert data[:4] == b"\x7fELF", "not an ELF file"
    return int.from_bytes(data[18:20], "little")


def load_yaml(path: Path) -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load(path.read_text(encoding="utf-8"))
    return data


# --------------------------------------------------------------------------- fixtures


@pytest.fixture(autouse=True)
def _no_ambient_settings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A developer's SOURCE_DATE_EPOCH or cache folder must not change what tests see."""
    monkeypatch.delenv("SOURCE_DATE_EPOCH", raising=False)
    monkeypatch.setenv("FASTSPLIT_CACHE_DIR", str(tmp_path / "default-cache-unused"))


@pytest.fixture(scope="session")
def dep_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return shared_cache(tmp_path_factory)


@pytest.fixture(scope="session")
def example_dist(
    example_build: Path, dep_cache: Path, tmp_path_factory: pytest.TempPathFactory
) -> tuple[Result, Path]:
    """example_app packaged for Python 3.11 x86_64 (read-only for tests)."""
    out = tmp_path_factory.mktemp("example-dist") / "dist" / "lambda"
    with pytest.MonkeyPatch.context() as patch:
        patch.delenv("SOURCE_DATE_EPOCH", raising=False)
        result = package(options(example_build, out, dep_cache))
    return result, out


@pytest.fixture(scope="session")
def minimal_build(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """tests/apps/minimal.py built (4 functions; runtime python3.12, x86_64)."""
    return build_to(tmp_path_factory.mktemp("minimal") / "build", "minimal:app", APPS)


@pytest.fixture(scope="session")
def minimal_dist(
    minimal_build: Path, dep_cache: Path, tmp_path_factory: pytest.TempPathFactory
) -> tuple[Result, Path]:
    """minimal packaged with example_app's requirements for Python 3.11 (read-only)."""
    out = tmp_path_factory.mktemp("minimal-dist") / "dist" / "lambda"
    with pytest.MonkeyPatch.context() as patch:
        patch.delenv("SOURCE_DATE_EPOCH", raising=False)
        result = package(options(minimal_build, out, dep_cache))
    return result, out


@pytest.fixture
def tiny_requirements(tmp_path: Path) -> Path:
    """A small, quick dependency set with a console script (idna) and mangum."""
    path = tmp_path / "requirements.txt"
    path.write_text("idna\n", encoding="utf-8")
    return path


# ------------------------------------------------------------- determinism (criterion 1)


def test_two_runs_give_identical_bytes(
    example_build: Path, example_dist: tuple[Result, Path], dep_cache: Path, tmp_path: Path
) -> None:
    first, first_out = example_dist
    again = package(options(example_build, tmp_path / "dist" / "lambda", dep_cache))
    assert not again.installed
    assert snapshot(tmp_path / "dist" / "lambda") == snapshot(first_out)
    assert [a.sha256 for a in again.artifacts] == [a.sha256 for a in first.artifacts]
    assert len(first.artifacts) == len(read_manifest(example_build)["functions"])


def test_identical_bytes_from_another_path_on_another_day(
    minimal_build: Path, minimal_dist: tuple[Result, Path], dep_cache: Path, tmp_path: Path
) -> None:
    """Moved build folder, every input file with other mtimes (the build and the installed
    dependencies), and the compressed dependencies rebuilt from those files."""
    first, first_out = minimal_dist
    moved = tmp_path / "checkout" / "elsewhere" / "build"
    shutil.copytree(minimal_build, moved)
    cache = private_cache(dep_cache, first.dependency_key, tmp_path)
    for stale in (cache / "deps" / first.dependency_key).glob("deps-*.zip"):
        stale.unlink()
    another_day = time.mktime((2031, 7, 14, 9, 26, 53, 0, 0, -1))
    for root in (moved, cache):
        for path in root.rglob("*"):
            os.utime(path, (another_day, another_day), follow_symlinks=False)

    result = package(options(moved, tmp_path / "dist" / "lambda", cache))

    assert not result.installed
    assert list((cache / "deps" / first.dependency_key).glob("deps-*.zip")), "not recompressed"
    assert snapshot(tmp_path / "dist" / "lambda") == snapshot(first_out)


def test_cold_installs_into_two_caches_give_identical_bytes(
    minimal_build: Path, tiny_requirements: Path, tmp_path: Path
) -> None:
    outs = []
    for name in ("one", "two"):
        out = tmp_path / name / "dist" / "lambda"
        result = package(
            options(
                minimal_build,
                out,
                tmp_path / name / "cache",
                requirements_file=tiny_requirements,
            )
        )
        assert result.installed
        outs.append(snapshot(out))
    assert outs[0] == outs[1]


def test_zip_bytes_do_not_depend_on_the_installing_interpreters_path(
    minimal_build: Path, tiny_requirements: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def package_with(python: str, name: str) -> dict[str, bytes]:
        with monkeypatch.context() as patch:
            patch.setattr(sys, "executable", python)
            out = tmp_path / name / "dist" / "lambda"
            package(
                options(
                    minimal_build, out, tmp_path / name / "cache",
                    requirements_file=tiny_requirements,
                )
            )  # fmt: skip
        return snapshot(out)

    # The same venv (same pip, same packages) reached through another path.
    venv = Path(sys.prefix)
    relocated = tmp_path / "relocated-venv"
    (relocated / "bin").mkdir(parents=True)
    shutil.copy(venv / "pyvenv.cfg", relocated / "pyvenv.cfg")
    (relocated / "bin" / "python").symlink_to(os.path.realpath(sys.executable))
    (relocated / "lib").symlink_to(venv / "lib", target_is_directory=True)

    here = package_with(sys.executable, "here")
    there = package_with(str(relocated / "bin" / "python"), "there")

    def differing_entries(name: str) -> list[str]:
        with (
            zipfile.ZipFile(tmp_path / "here/dist/lambda" / name) as a,
            zipfile.ZipFile(tmp_path / "there/dist/lambda" / name) as b,
        ):
            return [n for n in a.namelist() if a.read(n) != b.read(n)]

    assert differing_entries("get_hello.zip") == []
    assert here == there


def test_source_date_epoch_is_honoured(
    minimal_build: Path,
    minimal_dist: tuple[Result, Path],
    dep_cache: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    first, first_out = minimal_dist
    epoch = 1_700_000_000  # 2023-11-14T22:13:20Z: even seconds, as zip stores them
    monkeypatch.setenv("SOURCE_DATE_EPOCH", str(epoch))
    one = package(options(minimal_build, tmp_path / "one" / "lambda", dep_cache))
    two = package(options(minimal_build, tmp_path / "two" / "lambda", dep_cache))

    assert snapshot(tmp_path / "one" / "lambda") == snapshot(tmp_path / "two" / "lambda")
    before = {a.name: a.sha256 for a in first.artifacts}
    assert all(before[a.name] != a.sha256 for a in one.artifacts)
    assert [a.sha256 for a in one.artifacts] == [a.sha256 for a in two.artifacts]
    stamp = time.gmtime(epoch)[:6]
    for artifact in one.artifacts:
        with zipfile.ZipFile(tmp_path / "one" / "lambda" / artifact.zip) as archive:
            assert {info.date_time for info in archive.infolist()} == {stamp}
    monkeypatch.delenv("SOURCE_DATE_EPOCH")
    for artifact in one.artifacts:
        with zipfile.ZipFile(first_out / artifact.zip) as archive:
            # Without SOURCE_DATE_EPOCH each entry's date comes from its content.
            for info in archive.infolist():
                assert info.date_time == date_time(archive.read(info)), info.filename


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("0", ZIP_EPOCH_DATE),  # before 1980: a zip cannot hold it, clamped
        ("1700000000", (2023, 11, 14, 22, 13, 20)),
    ],
)
def test_zip_date_from_source_date_epoch(
    value: str | None, expected: tuple[int, ...], monkeypatch: pytest.MonkeyPatch
) -> None:
    if value is not None:
        monkeypatch.setenv("SOURCE_DATE_EPOCH", value)
    assert date_time() == expected
    assert date_time(b"any content") == expected  # the epoch wins over content dates


def test_zip_dates_without_source_date_epoch_follow_the_content(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("SOURCE_DATE_EPOCH", raising=False)
    assert date_time(b"hello") == date_time(b"hello")
    assert date_time(b"hello") != date_time(b"HELLO")
    assert all((1980, 1, 1) <= date_time(bytes([n]))[:3] < (2000, 1, 1) for n in range(50))


@pytest.mark.parametrize("function", ["get_users_user_id", "fallback", "mount_static", "docs"])
def test_zip_entries_sorted_normalised_and_complete(
    function: str, example_build: Path, example_dist: tuple[Result, Path], dep_cache: Path
) -> None:
    """Dependencies first, then the function's own files; each part sorted; Unix 0644/0755;
    the fixed date; no bytecode, scripts or secrets; every file the build lists."""
    result, out = example_dist
    site = dep_cache / "deps" / result.dependency_key / "site"
    function_dir = example_build / "functions" / function
    own = own_files(function_dir)
    with zipfile.ZipFile(out / f"{function}.zip") as archive:
        infos = archive.infolist()
    names = [info.filename for info in infos]
    deps, mine = names[: -len(own)], names[-len(own) :]

    assert mine == own
    assert deps == sorted(deps) and deps
    assert len(set(names)) == len(names), "duplicate entries"
    manifest = read_manifest(example_build)
    listed = next(f["files"] for f in manifest["functions"] if f["name"] == function)
    assert set(listed) <= set(mine)
    for info in infos:
        name = info.filename
        with zipfile.ZipFile(out / f"{function}.zip") as archive:
            assert info.date_time == date_time(archive.read(info)), name
        assert info.create_system == 3, name
        assert info.compress_type == zipfile.ZIP_DEFLATED, name
        mode = info.external_attr >> 16
        source = site / name if name in deps else function_dir / name
        executable = os.stat(source).st_mode & 0o111
        assert mode == (0o100755 if executable else 0o100644), (name, oct(mode))
        assert "__pycache__" not in name and not name.endswith((".pyc", ".pyo")), name
        assert not name.startswith(("/", "bin/")) and ".." not in name.split("/"), name
        assert not name.rsplit("/", 1)[-1].startswith(".env"), name
    assert all(info.external_attr >> 16 == 0o100644 for info in infos if info.filename in mine)
    # The shared dependencies are the same entries in every zip.
    assert deps == zip_names(out / "get_root.zip")[: len(deps)]


def test_unwanted_app_files_are_never_packaged(
    minimal_build: Path, dep_cache: Path, tmp_path: Path
) -> None:
    """Bytecode, .env files, VCS/venv folders and the app's tests stay out; modes are
    normalised (0600 → 0644, 0755 kept)."""
    build = tmp_path / "build"
    shutil.copytree(minimal_build, build)
    function_dir = build / "functions" / "get_hello"
    unwanted = [
        "__pycache__/minimal.cpython-311.pyc",
        "pkg/__pycache__/mod.cpython-311.pyc",
        "stale.pyc",
        "old.pyo",
        ".env",
        ".env.production",
        "pkg/.env.local",
        ".git/config",
        ".venv/lib/site.py",
        "tests/test_minimal.py",
        "pkg/tests/conftest.py",
        "test_smoke.py",
    ]
    wanted = {"pkg/__init__.py": 0o644, "pkg/secret_mode.txt": 0o600, "run.sh": 0o755}
    for name in [*unwanted, *wanted]:
        path = function_dir / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(f"# {name}\n", encoding="utf-8")
    for name, mode in wanted.items():
        os.chmod(function_dir / name, mode)

    package(options(build, tmp_path / "dist" / "lambda", dep_cache))

    with zipfile.ZipFile(tmp_path / "dist" / "lambda" / "get_hello.zip") as archive:
        modes = {info.filename: info.external_attr >> 16 for info in archive.infolist()}
    for name in unwanted:
        assert name not in modes
    assert modes["pkg/__init__.py"] == 0o100644
    assert modes["pkg/secret_mode.txt"] == 0o100644
    assert modes["run.sh"] == 0o100755
    assert {"handler.py", "fastsplit_runtime.py", "minimal.py"} <= set(modes)


def test_app_modules_named_like_tests_are_packaged_when_the_app_imports_them(
    dep_cache: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sys, "path", list(sys.path))
    monkeypatch.setattr(sys, "dont_write_bytecode", True)
    app_dir = tmp_path / "app"
    package_dir = app_dir / "ci_service_fs"
    (package_dir / "routers").mkdir(parents=True)
    (package_dir / "__init__.py").write_text("")
    (package_dir / "routers" / "__init__.py").write_text("")
    (package_dir / "routers" / "test_runs.py").write_text(
        textwrap.dedent(
            """
            from fastapi import APIRouter

            router = APIRouter()


            @router.get("/test-runs")
            def list_test_runs() -> list[str]:
                return ["run-1"]
            """
        )
    )
    (package_dir / "main.py").write_text(
        textwrap.dedent(
            """
            from fastapi import FastAPI

            from ci_service_fs.routers import test_runs

            app = FastAPI()
            app.include_router(test_runs.router)
            """
        )
    )
    before = set(sys.modules)
    try:
        build = build_to(tmp_path / "build", "ci_service_fs.main:app", app_dir)
    finally:
        for name in set(sys.modules) - before:
            if name.startswith("ci_service_fs"):
                del sys.modules[name]
    package(options(build, tmp_path / "dist" / "lambda", dep_cache))

    function = next(f for f in read_manifest(build)["functions"] if f["name"] == "get_test_runs")
    assert "ci_service_fs/routers/test_runs.py" in function["files"]
    missing = set(function["files"]) - set(zip_names(tmp_path / "dist/lambda/get_test_runs.zip"))
    assert missing == set()


# ------------------------------------------------------------------ cache (criterion 2)


def test_warm_runs_install_nothing_and_changed_requirements_install(
    minimal_build: Path,
    tiny_requirements: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    calls = counting_subprocesses(monkeypatch)
    cache = tmp_path / "cache"

    def run(target: Target = LOCAL) -> Result:
        calls.clear()
        out = tmp_path / "dist" / "lambda"
        return package(
            options(minimal_build, out, cache, requirements_file=tiny_requirements, target=target)
        )

    cold = run()
    assert (cold.installed, len(calls)) == (True, 1)
    assert calls[0][1:4] == ["-m", "pip", "install"]
    assert calls[0][calls[0].index("--python-version") + 1] == "3.11"
    assert "--only-binary=:all:" in calls[0]
    warm = run()
    assert (warm.installed, len(calls), warm.dependency_key) == (False, 0, cold.dependency_key)

    # Comments, blank lines and spacing around a comment are not requirements.
    tiny_requirements.write_text("# the app's needs\n\nidna  # IDNA\n", encoding="utf-8")
    same = run()
    assert (same.installed, len(calls), same.dependency_key) == (False, 0, cold.dependency_key)

    tiny_requirements.write_text("idna\nsix\n", encoding="utf-8")
    changed = run()
    assert (changed.installed, len(calls)) == (True, 1)
    assert changed.dependency_key != cold.dependency_key
    assert "six.py" in zip_names(tmp_path / "dist" / "lambda" / "get_hello.zip")

    tiny_requirements.write_text("idna\n", encoding="utf-8")
    back = run()
    assert (back.installed, len(calls), back.dependency_key) == (False, 0, cold.dependency_key)

    other_target = run(Target(python="3.12", arch="x86_64"))
    assert (other_target.installed, len(calls)) == (True, 1)
    assert other_target.dependency_key != cold.dependency_key


def test_failed_install_leaves_no_partial_dependency_set(
    minimal_build: Path, tmp_path: Path
) -> None:
    requirements = tmp_path / "requirements.txt"
    requirements.write_text("this-package-does-not-exist-fastsplit==1.0\n", encoding="utf-8")
    cache = tmp_path / "cache"
    out = tmp_path / "dist" / "lambda"
    with pytest.raises(PackageError, match=r"this-package-does-not-exist-fastsplit==1\.0"):
        package(options(minimal_build, out, cache, requirements_file=requirements))
    assert not out.exists()
    assert list((cache / "deps").iterdir()) == []


# -------------------------------------------------------- target platform (criterion 3)


def test_arm64_python313_packages_aarch64_cp313_wheels(
    minimal_build: Path, minimal_dist: tuple[Result, Path], dep_cache: Path, tmp_path: Path
) -> None:
    """From this x86_64 / 3.11 machine: pydantic-core's wheel for cp313 aarch64."""
    out = tmp_path / "dist" / "lambda"
    result = package(
        options(minimal_build, out, dep_cache, target=Target(python="3.13", arch="arm64"))
    )
    assert result.dependency_key != minimal_dist[0].dependency_key

    def native_parts(path: Path) -> tuple[list[str], dict[str, int]]:
        with zipfile.ZipFile(path) as archive:
            wheel = next(
                n
                for n in archive.namelist()
                if n.startswith("pydantic_core-") and n.endswith(".dist-info/WHEEL")
            )
            tags = [
                line.removeprefix("Tag: ")
                for line in archive.read(wheel).decode().splitlines()
                if line.startswith("Tag: ")
            ]
            shared = {
                n: elf_machine(archive.read(n)) for n in archive.namelist() if n.endswith(".so")
            }
        return tags, shared

    tags, shared = native_parts(out / "get_hello.zip")
    assert tags and all(t.startswith("cp313-cp313-manylinux") for t in tags), tags
    assert all(t.endswith("_aarch64") for t in tags), tags
    assert shared and all("cpython-313-aarch64-linux-gnu" in n for n in shared), shared
    assert set(shared.values()) == {EM_AARCH64}

    local_tags, local_shared = native_parts(minimal_dist[1] / "get_hello.zip")
    assert all(t.startswith("cp311-cp311-") and t.endswith("_x86_64") for t in local_tags)
    assert all("cpython-311-x86_64-linux-gnu" in n for n in local_shared)
    assert set(local_shared.values()) == {EM_X86_64}

    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["target"]["python"] == "3.13"
    assert manifest["target"]["arch"] == "arm64"
    assert "manylinux_2_34_aarch64" in manifest["target"]["platforms"]
    serverless = load_yaml(out / "serverless.yml")
    assert serverless["provider"]["runtime"] == "python3.13"
    assert serverless["provider"]["architecture"] == "arm64"
    assert {f["architecture"] for f in serverless["functions"].values()} == {"arm64"}
    template = load_yaml(out / "template.yaml")
    assert template["Globals"]["Function"]["Runtime"] == "python3.13"
    functions = [
        r["Properties"]
        for r in template["Resources"].values()
        if r["Type"] == "AWS::Serverless::Function"
    ]
    assert all(p["Architectures"] == ["arm64"] for p in functions)


def test_target_platform_tags() -> None:
    old = Target(python="3.11", arch="x86_64").platforms()
    assert old[0] == "manylinux2014_x86_64"
    assert "manylinux_2_26_x86_64" in old and "manylinux_2_27_x86_64" not in old
    new = Target(python="3.12", arch="arm64").platforms()
    assert "manylinux_2_34_aarch64" in new and "manylinux_2_35_aarch64" not in new
    assert all(tag.endswith("_aarch64") for tag in new)
    assert Target(python="3.13").abi == "cp313"


def test_default_target_is_the_builds(minimal_build: Path, tmp_path: Path) -> None:
    assert target_from_manifest(read_manifest(minimal_build)) == Target("3.12", "x86_64")
    config = Config(
        app="minimal:app",
        app_dir=APPS,
        runtime="python3.13",
        architecture="arm64",
        routes=(("/hello/*", {"architecture": "x86_64"}),),
    )
    build = build_to(tmp_path / "build", "minimal:app", APPS, config)
    # Three functions are arm64 (get_hello, docs, fallback), one x86_64: the most common wins.
    assert target_from_manifest(read_manifest(build)) == Target("3.13", "arm64")


def test_a_function_with_another_architecture_is_not_silently_changed(
    dep_cache: Path, tmp_path: Path
) -> None:
    config = Config(
        app="minimal:app", app_dir=APPS, routes=(("/hello/*", {"architecture": "arm64"}),)
    )
    build = build_to(tmp_path / "build", "minimal:app", APPS, config)
    built = {f["name"]: f["settings"]["architecture"] for f in read_manifest(build)["functions"]}
    assert built["get_hello_name"] == "arm64" and built["get_hello"] == "x86_64"
    out = tmp_path / "dist" / "lambda"
    # The CLI's default target (the most common architecture), on the session's Python set.
    default = target_from_manifest(read_manifest(build))
    target = Target(python="3.11", arch=default.arch)
    result = package(options(build, out, dep_cache, target=target))
    packaged = load_yaml(out / "serverless.yml")["functions"]["get_hello_name"]["architecture"]
    warned = any("get_hello_name" in d.where + d.message for d in result.diagnostics)
    assert packaged == "arm64" or warned


# ------------------------------------------------------------------------------ layer


def test_layer_holds_the_dependencies_and_functions_only_their_code(
    example_build: Path, example_dist: tuple[Result, Path], dep_cache: Path, tmp_path: Path
) -> None:
    out = tmp_path / "dist" / "lambda"
    result = package(options(example_build, out, dep_cache, layer=True))
    assert not result.installed and result.layer is not None

    layer_names = zip_names(out / "layer-deps.zip")
    assert layer_names == sorted(layer_names)
    assert all(name.startswith("python/") for name in layer_names)
    assert {"python/fastapi/__init__.py", "python/mangum/__init__.py"} <= set(layer_names)
    # The same dependency files as inside the all-in-one zips, below python/.
    plain = zip_names(example_dist[1] / "get_root.zip")
    plain_deps = plain[: len(plain) - len(own_files(example_build / "functions" / "get_root"))]
    assert [name.removeprefix("python/") for name in layer_names] == plain_deps
    for function in read_manifest(example_build)["functions"]:
        name = function["name"]
        assert zip_names(out / f"{name}.zip") == own_files(example_build / function["folder"])

    serverless = load_yaml(out / "serverless.yml")
    layer = serverless["layers"]["deps"]
    assert layer["package"] == {"artifact": "layer-deps.zip"}
    assert layer["compatibleRuntimes"] == ["python3.11"]
    assert layer["compatibleArchitectures"] == ["x86_64"]
    for name, function in serverless["functions"].items():
        assert function["layers"] == [{"Ref": "DepsLambdaLayer"}], name
        assert function["package"] == {"artifact": f"{name}.zip"}
    template = load_yaml(out / "template.yaml")
    resources = template["Resources"]
    assert resources["DepsLayer"]["Type"] == "AWS::Serverless::LayerVersion"
    assert resources["DepsLayer"]["Properties"]["ContentUri"] == "layer-deps.zip"
    for function in read_manifest(example_build)["functions"]:
        properties = resources[function["logical_id"]]["Properties"]
        assert properties["Layers"] == [{"Ref": "DepsLayer"}]
        assert properties["CodeUri"] == f"{function['name']}.zip"

    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["layer"]["zip"] == "layer-deps.zip"
    assert manifest["layer"]["sha256"] == sha256(out / "layer-deps.zip") == result.layer.sha256
    assert manifest["layer"]["size"] == (out / "layer-deps.zip").stat().st_size

    again = package(options(example_build, tmp_path / "again" / "lambda", dep_cache, layer=True))
    assert again.layer is not None and again.layer.sha256 == result.layer.sha256
    assert snapshot(tmp_path / "again" / "lambda") == snapshot(out)


# ------------------------------------------------------------- excludes, boto3, options


def test_exclude_patterns_apply_to_app_files_and_dependencies(
    minimal_build: Path, dep_cache: Path, tmp_path: Path
) -> None:
    build = tmp_path / "build"
    shutil.copytree(minimal_build, build)
    for function_dir in (build / "functions").iterdir():
        (function_dir / "static").mkdir()
        (function_dir / "static" / "logo.svg").write_text("<svg/>")
        (function_dir / "notes.md").write_text("# notes")
    out = tmp_path / "dist" / "lambda"
    package(options(build, out, dep_cache, exclude=("static/*", "*.md", "*.pyi")))
    for path in out.glob("*.zip"):
        names = zip_names(path)
        assert not [name for name in names if name.endswith((".pyi", ".md", ".svg"))]
        assert {"handler.py", "pydantic_core/__init__.py"} <= set(names)
        assert "pydantic_core/_pydantic_core.pyi" not in names


def test_boto3_is_left_out_unless_asked_for(
    minimal_build: Path,
    example_dist: tuple[Result, Path],
    dep_cache: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    requirements = tmp_path / "requirements.txt"
    requirements.write_text("fastapi>=0.115.0\nboto3\n", encoding="utf-8")
    calls = counting_subprocesses(monkeypatch)

    out = tmp_path / "without" / "lambda"
    without = package(options(minimal_build, out, dep_cache, requirements_file=requirements))
    # Lambda provides boto3: the set is the one without it, already installed.
    assert without.dependency_key == example_dist[0].dependency_key
    assert (without.installed, calls) == (False, [])
    tops = {name.split("/", 1)[0] for name in zip_names(out / "get_hello.zip")}
    assert not [top for top in tops if top.startswith(RUNTIME_PROVIDED_TOPS)]
    manifest = json.loads((out / "manifest.json").read_text())
    assert not [r for r in manifest["requirements"] if r.startswith("boto3")]

    # Asked for: bundled (a set of its own; boto3 alone keeps the install small).
    requirements.write_text("boto3\n", encoding="utf-8")
    out = tmp_path / "with" / "lambda"
    with_boto3 = package(
        options(minimal_build, out, dep_cache, requirements_file=requirements, include_runtime=True)
    )
    assert with_boto3.dependency_key != without.dependency_key
    names = set(zip_names(out / "get_hello.zip"))
    for top in RUNTIME_PROVIDED_TOPS:
        assert f"{top}/__init__.py" in names
    assert "boto3" in json.loads((out / "manifest.json").read_text())["requirements"]


def test_manifest_describes_the_files(
    example_build: Path, example_dist: tuple[Result, Path]
) -> None:
    result, out = example_dist
    manifest = json.loads((out / "manifest.json").read_text())
    names = [f["name"] for f in read_manifest(example_build)["functions"]]
    assert sorted(manifest["functions"]) == sorted(names)
    assert sorted(path.name for path in out.iterdir()) == sorted(
        [f"{name}.zip" for name in names] + ["manifest.json", "serverless.yml", "template.yaml"]
    )
    by_name = {artifact.name: artifact for artifact in result.artifacts}
    for name, entry in manifest["functions"].items():
        path = out / entry["zip"]
        assert entry["zip"] == f"{name}.zip"
        assert entry["size"] == path.stat().st_size == by_name[name].size
        assert entry["sha256"] == sha256(path) == by_name[name].sha256
        with zipfile.ZipFile(path) as archive:
            assert entry["unzipped_size"] == sum(i.file_size for i in archive.infolist())
    assert manifest["layer"] is None
    assert manifest["dependency_set"] == result.dependency_key
    assert manifest["target"]["python"] == "3.11" and manifest["target"]["arch"] == "x86_64"
    assert manifest["target"]["platforms"] == LOCAL.platforms()
    assert manifest["requirements"] == ["fastapi>=0.115.0", f"mangum=={metadata.version('mangum')}"]
    assert manifest["app"] == "example_app.main:app"
    for text_file in ("manifest.json", "serverless.yml", "template.yaml"):
        text = (out / text_file).read_text()
        assert str(out.parent.parent) not in text and str(REPO) not in text, text_file


def test_jobs_do_not_change_the_bytes(
    example_build: Path, example_dist: tuple[Result, Path], dep_cache: Path, tmp_path: Path
) -> None:
    one = tmp_path / "one" / "lambda"
    package(options(example_build, one, dep_cache, jobs=1))
    assert snapshot(one) == snapshot(example_dist[1])


def test_large_zips_are_a_warning(
    minimal_build: Path, dep_cache: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(lambda_zip, "DIRECT_UPLOAD_LIMIT", 1024 * 1024)
    out = tmp_path / "dist" / "lambda"
    result = package(options(minimal_build, out, dep_cache))
    assert sorted(d.where for d in result.diagnostics) == sorted(a.name for a in result.artifacts)
    for diagnostic in result.diagnostics:
        assert diagnostic.level == "warning"
        assert "MB, over the 50 MB of a direct upload" in diagnostic.message
        assert "S3" in diagnostic.message
    assert (out / "manifest.json").is_file()


def test_no_warnings_for_small_zips(example_dist: tuple[Result, Path]) -> None:
    assert example_dist[0].diagnostics == ()


def test_a_large_layer_is_a_warning_too(
    minimal_build: Path, dep_cache: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(lambda_zip, "DIRECT_UPLOAD_LIMIT", 1024 * 1024)
    result = package(options(minimal_build, tmp_path / "dist" / "lambda", dep_cache, layer=True))
    assert result.layer is not None and result.layer.size > 1024 * 1024
    assert [d.where for d in result.diagnostics] == ["layer-deps"]


def test_over_the_unzipped_limit_is_an_error_and_writes_nothing(
    minimal_build: Path, dep_cache: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(lambda_zip, "UNZIPPED_LIMIT", 1024 * 1024)
    out = tmp_path / "dist" / "lambda"
    with pytest.raises(PackageError) as raised:
        package(options(minimal_build, out, dep_cache))
    message = str(raised.value)
    assert "MB unzipped, over Lambda's 250 MB limit" in message
    assert "(largest: pydantic_core " in message
    assert message.split()[1] in {"get_hello", "get_hello_name", "docs", "fallback"}
    assert list((tmp_path / "dist").iterdir()) == []


# -------------------------------------------------------------------- requirements


def test_requirements_add_mangum_and_drop_what_lambda_provides(tmp_path: Path) -> None:
    mangum = f"mangum=={metadata.version('mangum')}"
    path = tmp_path / "requirements.txt"
    path.write_text(
        "# comment\n\nfastapi>=0.115  # web\nboto3==1.35.0\nBotocore>=1.35\ns3transfer\n"
        "httpx[http2]==0.28.1 ; python_version >= '3.10'\nfastapi>=0.115\n",
        encoding="utf-8",
    )
    assert read_requirements(requirements_file=path, project_dir=tmp_path) == (
        "fastapi>=0.115",
        "httpx[http2]==0.28.1 ; python_version >= '3.10'",
        mangum,
    )
    kept = read_requirements(requirements_file=path, project_dir=tmp_path, include_runtime=True)
    assert kept[1:4] == ("boto3==1.35.0", "Botocore>=1.35", "s3transfer")
    path.write_text("Mangum==0.21.0\n", encoding="utf-8")
    assert read_requirements(requirements_file=path, project_dir=tmp_path) == ("Mangum==0.21.0",)


def test_requirements_default_sources(tmp_path: Path) -> None:
    mangum = f"mangum=={metadata.version('mangum')}"
    project = tmp_path / "project"
    project.mkdir()
    assert read_requirements(requirements_file=None, project_dir=project) == (mangum,)
    (project / "pyproject.toml").write_text(
        '[project]\nname = "x"\nversion = "1"\ndependencies = ["fastapi>=0.115", "boto3"]\n',
        encoding="utf-8",
    )
    assert read_requirements(requirements_file=None, project_dir=project) == (
        "fastapi>=0.115",
        mangum,
    )
    (project / "requirements.txt").write_text("starlette\n", encoding="utf-8")
    assert read_requirements(requirements_file=None, project_dir=project) == ("starlette", mangum)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("-r base.txt\n", "nested requirement files (-r) are not supported"),
        ("--constraint c.txt\n", "nested requirement files (--constraint) are not supported"),
    ],
)
def test_nested_requirement_files_are_refused(text: str, expected: str, tmp_path: Path) -> None:
    path = tmp_path / "requirements.txt"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(PackageError, match=expected.replace("(", r"\(").replace(")", r"\)")):
        read_requirements(requirements_file=path, project_dir=tmp_path)


def test_hashed_requirements_keep_each_hash_with_its_requirement(tmp_path: Path) -> None:
    path = tmp_path / "requirements.txt"
    path.write_text(
        "boto3==1.35.0 \\\n"
        "    --hash=sha256:1111111111111111111111111111111111111111111111111111111111111111\n"
        "mangum==0.22.0 \\\n"
        "    --hash=sha256:a0595e3cc7a8091b22d8b3997bab5b2ad6aae7a5e40865e19c2015f5c959a93b\n",
        encoding="utf-8",
    )
    lines = read_requirements(requirements_file=path, project_dir=tmp_path)
    logical = "\n".join(lines).replace("\\\n", " ").splitlines()
    assert not [line for line in logical if line.strip().startswith("--hash")], lines
    assert not [line for line in logical if "1111111111" in line], lines


# ------------------------------------------------ deploy tools read the packaged configs


def _osls_package_with_fake_cloudformation(service_dir: Path, env: dict[str, str]) -> Any:
    """`osls package` for a service with layers: it asks CloudFormation for the deployed
    stack (to reuse an unchanged layer) even when only packaging. Run it in a network
    namespace whose only endpoint is a stand-in CloudFormation answering "stack does not
    exist" (a first deployment), which is what osls handles without any network."""
    server = textwrap.dedent(
        """
        import http.server, sys, time
        body = (b'<ErrorResponse><Error><Type>Sender</Type><Code>ValidationError</Code>'
                b'<Message>Stack with id x does not exist</Message></Error>'
                b'<RequestId>0</RequestId></ErrorResponse>')
        class H(http.server.BaseHTTPRequestHandler):
            def do_POST(self):
                self.rfile.read(int(self.headers.get("Content-Length") or 0))
                self.send_response(400)
                self.send_header("Content-Type", "text/xml")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)
            def log_message(self, *args):
                pass
        server = http.server.HTTPServer(("127.0.0.1", 4566), H)
        server.timeout = 0.5
        open(sys.argv[1], "w").close()
        deadline = time.monotonic() + 150
        while time.monotonic() < deadline:
            server.handle_request()
        """
    )
    ready = service_dir.parent / "fake-cloudformation.ready"
    script = (
        'ip link set lo up || exit 97; "$1" -c "$2" "$3" & server=$!; '
        'i=0; while [ ! -f "$3" ] && [ $i -lt 200 ]; do sleep 0.05; i=$((i+1)); done; '
        '"$4" package; code=$?; kill $server; wait $server; exit $code'
    )
    prefix = ["unshare", "--net"] if os.geteuid() == 0 else ["unshare", "-r", "--net"]
    run_env = {
        "SLS_SCHEMA_CACHE_BASE_DIR": str(tools_dir() / "cache"),
        **env,
        "AWS_ENDPOINT_URL_CLOUDFORMATION": "http://127.0.0.1:4566",
    }
    command = [*prefix, "sh", "-c", script, "sh", sys.executable, server, str(ready)]
    return subprocess.run(
        [*command, str(tool("node_modules/.bin/osls"))],
        cwd=service_dir,
        env=run_env,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )


@pytest.mark.tools
@pytest.mark.parametrize("layer", [False, True], ids=["all-in-one", "layer"])
def test_osls_package_and_sam_validate_accept_the_packaged_configs(
    layer: bool, example_build: Path, dep_cache: Path, tmp_path: Path
) -> None:
    out = tmp_path / "dist" / "lambda"
    result = package(options(example_build, out, dep_cache, layer=layer))
    before = snapshot(out)
    env = isolated_env(tmp_path)

    # With a layer osls asks CloudFormation about the deployed stack; without one it needs
    # no network at all (not even loopback).
    package_with = _osls_package_with_fake_cloudformation if layer else run_osls_package
    osls = package_with(out, env)
    assert osls.returncode == 0, describe(osls)
    assert "Service packaged" in osls.stdout + osls.stderr, describe(osls)

    # osls zipped nothing itself and uses the given zips as they are.
    generated = out / ".serverless"
    assert not list(generated.glob("*.zip"))
    assert snapshot(out).items() >= before.items()
    state = json.loads((generated / "serverless-state.json").read_text())
    zips = {artifact.name: out / artifact.zip for artifact in result.artifacts}
    for name, function in state["service"]["functions"].items():
        assert function["package"] == {"artifact": f"{name}.zip"}
    stack = json.loads((generated / "cloudformation-template-update-stack.json").read_text())
    resources = stack["Resources"]
    names = {
        logical: resource["Properties"]["FunctionName"].removeprefix("example-app-dev-")
        for logical, resource in resources.items()
        if resource["Type"] == "AWS::Lambda::Function"
    }
    assert sorted(names.values()) == sorted(zips)
    for logical, name in names.items():
        properties = resources[logical]["Properties"]
        assert properties["Code"]["S3Key"].endswith(f"/{name}.zip")
        assert properties["Runtime"] == "python3.11"
        assert properties.get("Layers") == ([{"Ref": "DepsLambdaLayer"}] if layer else None)
    versions = [r for r in resources.values() if r["Type"] == "AWS::Lambda::Version"]
    assert len(versions) == len(zips)
    for version in versions:
        name = names[version["Properties"]["FunctionName"]["Ref"]]
        digest = hashlib.sha256(zips[name].read_bytes()).digest()
        assert version["Properties"]["CodeSha256"] == base64.b64encode(digest).decode(), name
    layers = {k: r for k, r in resources.items() if r["Type"] == "AWS::Lambda::LayerVersion"}
    if layer:
        assert list(layers) == ["DepsLambdaLayer"]
        content = layers["DepsLambdaLayer"]["Properties"]["Content"]
        assert content["S3Key"].endswith("/layer-deps.zip")
    else:
        assert layers == {}

    sam = sam_validate(out / "template.yaml", env)
    assert sam.returncode == 0, describe(sam)
    assert "is a valid SAM Template" in sam.stdout + sam.stderr
