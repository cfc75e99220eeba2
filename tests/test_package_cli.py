"""`fastsplit package` on the command line: the artifact table, defaults and settings,
warnings and --strict, and one clear line for every bad input with the previous dist/
left byte for byte as it was.

Every test runs in its own empty working directory; packaging uses the session's shared
dependency cache (see tests/test_packager.py) unless a test needs its own.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import zipfile
from collections.abc import Callable
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner, Result

from fastsplit.cli import app
from fastsplit.packager import lambda_zip, read_manifest
from tests.conftest import APPS, build_to
from tests.test_packager import EXAMPLE_REQUIREMENTS, shared_cache, snapshot

runner = CliRunner()
MB = 1024 * 1024


@pytest.fixture(autouse=True)
def _isolated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty working directory; no ambient SOURCE_DATE_EPOCH; no default cache."""
    work = tmp_path / "cwd"
    work.mkdir()
    monkeypatch.chdir(work)
    monkeypatch.delenv("SOURCE_DATE_EPOCH", raising=False)
    monkeypatch.setenv("FASTSPLIT_CACHE_DIR", str(tmp_path / "default-cache-unused"))
    return work


@pytest.fixture(scope="session")
def dep_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return shared_cache(tmp_path_factory)


@pytest.fixture(scope="session")
def minimal_build(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_to(tmp_path_factory.mktemp("cli-minimal") / "build", "minimal:app", APPS)


def run(*args: str | Path) -> Result:
    return runner.invoke(app, [str(arg) for arg in args])


def package_args(build: Path, dist: Path, cache: Path, *extra: str | Path) -> list[str | Path]:
    """`package` for Python 3.11 with example_app's requirements (the session's warm set)."""
    return [
        "package",
        "--build", build,
        "--out", dist,
        "--requirements", EXAMPLE_REQUIREMENTS,
        "--python", "3.11",
        "--cache-dir", cache,
        *extra,
    ]  # fmt: skip


def stderr_lines(result: Result) -> list[str]:
    return [line for line in result.stderr.splitlines() if line.strip()]


def assert_no_traceback(result: Result) -> None:
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(
        result.exception
    )
    assert "Traceback" not in result.output


def assert_one_error_line(result: Result) -> str:
    """Exit code 1, exactly one ``error:`` line on stderr, nothing on stdout."""
    assert_no_traceback(result)
    assert result.exit_code == 1, result.output
    lines = stderr_lines(result)
    assert len(lines) == 1, lines
    assert lines[0].startswith("error: ")
    assert result.stdout.strip() == ""
    return lines[0]


def size_text(size: int) -> str:
    """How the table shows a size (as fastsplit.cli does)."""
    return f"{size / MB:.1f} MB" if size >= MB else f"{size / 1024:.0f} kB"


# ------------------------------------------------------------------------- good runs


def test_package_prints_the_artifact_table(
    example_build: Path, dep_cache: Path, tmp_path: Path, _isolated: Path
) -> None:
    first = run(*package_args(example_build, tmp_path / "first", dep_cache))
    assert first.exit_code == 0, first.output
    result = run(*package_args(example_build, tmp_path / "dist", dep_cache))
    assert result.exit_code == 0, result.output
    assert_no_traceback(result)
    assert result.stdout == first.stdout  # the same bytes, so the same table
    out = tmp_path / "dist" / "lambda"
    manifest = json.loads((out / "manifest.json").read_text())
    lines = result.stdout.splitlines()
    assert lines[0].strip() == "Artifacts"
    count = len(read_manifest(example_build)["functions"])
    assert len(manifest["functions"]) == count
    for name, entry in manifest["functions"].items():
        rows = [line for line in lines if f" {name} " in line]
        assert len(rows) == 1, (name, rows)
        row = rows[0]
        assert entry["sha256"][:12] in row
        assert size_text(entry["size"]) in row
        assert size_text(entry["unzipped_size"]) in row
    key = manifest["dependency_set"]
    assert stderr_lines(result) == [
        f"Packaged {count} functions into {out}/ (dependencies {key}: from cache, no install)"
    ]
    assert list(_isolated.iterdir()) == []


def test_json_output_is_the_manifest(minimal_build: Path, dep_cache: Path, tmp_path: Path) -> None:
    result = run(*package_args(minimal_build, tmp_path / "dist", dep_cache, "--json"))
    assert result.exit_code == 0, result.output
    manifest = (tmp_path / "dist" / "lambda" / "manifest.json").read_text()
    assert json.loads(result.stdout) == json.loads(manifest)
    assert result.stderr == ""


def test_defaults_come_from_the_build_and_the_working_directory(
    minimal_build: Path, dep_cache: Path, _isolated: Path
) -> None:
    """No --build/--out/--python/--arch/--requirements: ./build, ./dist/lambda, the
    build's runtime (python3.12) and architecture, ./requirements.txt."""
    shutil.copytree(minimal_build, _isolated / "build")
    (_isolated / "requirements.txt").write_text("idna\n", encoding="utf-8")
    result = run("package", "--cache-dir", dep_cache)
    assert result.exit_code == 0, result.output
    out = _isolated / "dist" / "lambda"
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["target"]["python"] == "3.12"
    assert manifest["target"]["arch"] == "x86_64"
    assert manifest["requirements"][0] == "idna"
    assert yaml.safe_load((out / "serverless.yml").read_text())["provider"]["runtime"] == (
        "python3.12"
    )
    assert stderr_lines(result)[-1].startswith("Packaged 4 functions into dist/lambda/ ")


def test_pyproject_settings_and_flags(
    minimal_build: Path, dep_cache: Path, tmp_path: Path, _isolated: Path
) -> None:
    """[tool.fastsplit] out/dist/requirements (relative to the project) and exclude, plus
    --exclude on top."""
    project = tmp_path / "project"
    shutil.copytree(minimal_build, project / "build")
    for function_dir in (project / "build" / "functions").iterdir():
        (function_dir / "static").mkdir()
        (function_dir / "static" / "logo.svg").write_text("<svg/>")
        (function_dir / "NOTES.md").write_text("# notes")
    (project / "reqs").mkdir()
    (project / "reqs" / "app.txt").write_text(EXAMPLE_REQUIREMENTS.read_text())
    (project / "pyproject.toml").write_text(
        '[tool.fastsplit]\nout = "build"\ndist = "artifacts"\n'
        'requirements = "reqs/app.txt"\nexclude = ["static/*"]\n',
        encoding="utf-8",
    )
    result = run(
        "package",
        "--project", project,
        "--python", "3.11",
        "--cache-dir", dep_cache,
        "--exclude", "*.md",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    out = project / "artifacts" / "lambda"
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["requirements"][0] == "fastapi>=0.115.0"
    for name in manifest["functions"]:
        with_names = _zip_names(out / f"{name}.zip")
        assert "handler.py" in with_names
        assert not [n for n in with_names if n.startswith("static/") or n.endswith(".md")]
    assert list(_isolated.iterdir()) == []


def test_layer_flag(minimal_build: Path, dep_cache: Path, tmp_path: Path) -> None:
    result = run(*package_args(minimal_build, tmp_path / "dist", dep_cache, "--layer"))
    assert result.exit_code == 0, result.output
    out = tmp_path / "dist" / "lambda"
    manifest = json.loads((out / "manifest.json").read_text())
    row = next(line for line in result.stdout.splitlines() if " layer-deps " in line)
    assert manifest["layer"]["sha256"][:12] in row
    assert (out / "layer-deps.zip").is_file()
    assert all(not n.startswith("fastapi/") for n in _zip_names(out / "get_hello.zip"))


def test_include_boto3_flag(minimal_build: Path, dep_cache: Path, tmp_path: Path) -> None:
    requirements = tmp_path / "requirements.txt"
    requirements.write_text("boto3\n", encoding="utf-8")
    for flags, bundled in (([], False), (["--include-boto3"], True)):
        dist = tmp_path / ("with" if bundled else "without")
        args = package_args(minimal_build, dist, dep_cache, "--requirements", requirements)
        result = run(*args, *flags)
        assert result.exit_code == 0, result.output
        out = dist / "lambda"
        manifest = json.loads((out / "manifest.json").read_text())
        assert ("boto3" in manifest["requirements"]) is bundled
        names = _zip_names(out / "get_hello.zip")
        assert ("boto3/__init__.py" in names) is bundled
        assert ("botocore/__init__.py" in names) is bundled


def test_large_zips_warn_and_strict_fails(
    minimal_build: Path, dep_cache: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(lambda_zip, "DIRECT_UPLOAD_LIMIT", 1 * MB)
    functions = ["docs", "fallback", "get_hello", "get_hello_name"]

    relaxed = run(*package_args(minimal_build, tmp_path / "dist", dep_cache))
    assert relaxed.exit_code == 0, relaxed.output
    warnings = [line for line in stderr_lines(relaxed) if line.startswith("warning: ")]
    assert sorted(line.split(":")[1].strip() for line in warnings) == functions
    for line in warnings:
        assert "MB, over the 50 MB of a direct upload: deploy it through S3" in line

    strict = run(*package_args(minimal_build, tmp_path / "dist", dep_cache, "--strict"))
    assert strict.exit_code == 1, strict.output
    assert_no_traceback(strict)
    assert [line for line in stderr_lines(strict) if line.startswith("warning: ")] == warnings


def _zip_names(path: Path) -> list[str]:
    with zipfile.ZipFile(path) as archive:
        return archive.namelist()


# ------------------------------------------------------------------------ bad inputs

Setup = Callable[[Path, Path, pytest.MonkeyPatch], list[str | Path]]


def _requirements(text: str, *flags: str) -> Setup:
    def setup(tmp_path: Path, build: Path, monkeypatch: pytest.MonkeyPatch) -> list[str | Path]:
        path = tmp_path / "bad-requirements.txt"
        path.write_text(text, encoding="utf-8")
        return ["--requirements", path, *flags]

    return setup


def _flags(*flags: str) -> Setup:
    def setup(tmp_path: Path, build: Path, monkeypatch: pytest.MonkeyPatch) -> list[str | Path]:
        return list(flags)

    return setup


def _over_limit_build(
    tmp_path: Path, build: Path, monkeypatch: pytest.MonkeyPatch
) -> list[str | Path]:
    """A build whose function folder holds a 260 MB file of zeros (sparse: costs no disk,
    compresses in a second or two)."""
    big = tmp_path / "big-build"
    shutil.copytree(build, big)
    with open(big / "functions" / "get_hello" / "blob.bin", "wb") as blob:
        blob.truncate(260 * MB)
    return ["--build", big]


def _no_build(tmp_path: Path, build: Path, monkeypatch: pytest.MonkeyPatch) -> list[str | Path]:
    return ["--build", tmp_path / "no-such-build"]


def _bad_epoch(tmp_path: Path, build: Path, monkeypatch: pytest.MonkeyPatch) -> list[str | Path]:
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "yesterday")
    return []


def _missing_requirements(
    tmp_path: Path, build: Path, monkeypatch: pytest.MonkeyPatch
) -> list[str | Path]:
    return ["--requirements", tmp_path / "missing-requirements.txt"]


BAD_INPUTS = [
    pytest.param(
        _missing_requirements,
        "missing-requirements.txt does not exist; check --requirements or create it",
        id="missing-requirements-file",
    ),
    pytest.param(
        _requirements("this-package-does-not-exist-fastsplit==1.0\n"),
        "cannot install 'this-package-does-not-exist-fastsplit==1.0' for Python 3.11 on "
        "manylinux x86_64: no matching wheel",
        id="unresolvable-requirement",
    ),
    pytest.param(
        # MarkupSafe 2.1.3 has manylinux wheels up to cp312 only (this machine's indexes
        # and PyPI): fine for 3.11 x86_64, nothing for 3.13 arm64 (and no source builds).
        _requirements("markupsafe==2.1.3\n", "--python", "3.13", "--arch", "arm64"),
        "cannot install 'markupsafe==2.1.3' for Python 3.13 on manylinux arm64: no matching wheel",
        id="no-wheel-for-the-target",
    ),
    pytest.param(
        _requirements("-r base.txt\nfastapi\n"),
        "nested requirement files (-r) are not supported",
        id="nested-requirements",
    ),
    pytest.param(
        _over_limit_build,
        (
            "error: function get_hello is ",
            " MB unzipped, over Lambda's 250 MB limit (largest: blob.bin 260.0 MB, ",
            "exclude files with --exclude or use a container image",
        ),
        id="function-over-250-MB",
    ),
    pytest.param(_no_build, "no fastsplit build in", id="no-build-folder"),
    pytest.param(
        # A build without Vercel's project (built with --target lambda).
        _flags("--target", "vercel"),
        "no Vercel project in",
        id="target-vercel",
    ),
    pytest.param(
        _flags("--target", "gcp-functions"),
        "--target 'gcp-functions' is not supported; use --target lambda",
        id="target-unknown",
    ),
    pytest.param(
        _flags("--python", "3.9"),
        "--python 3.9 is not a Lambda Python; use 3.10 to 3.14",
        id="python-3.9",
    ),
    pytest.param(
        _flags("--arch", "ppc64"),
        "--arch ppc64 is not supported; use x86_64 or arm64",
        id="arch-ppc64",
    ),
    pytest.param(
        _flags("--jobs", "-1"),
        "--jobs",
        id="negative-jobs",
    ),
    pytest.param(
        _bad_epoch,
        "SOURCE_DATE_EPOCH",
        id="non-integer-SOURCE_DATE_EPOCH",
    ),
]


@pytest.mark.parametrize(("setup", "expected"), BAD_INPUTS)
def test_bad_input_is_one_line_and_leaves_dist_unchanged(
    setup: Setup,
    expected: str | tuple[str, ...],
    minimal_build: Path,
    dep_cache: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    _isolated: Path,
) -> None:
    dist = tmp_path / "dist"
    good = run(*package_args(minimal_build, dist, dep_cache))
    assert good.exit_code == 0, good.output
    extra = setup(tmp_path, minimal_build, monkeypatch)
    # Installs that must fail get a cache of their own, to check it is left clean; the
    # other cases use the shared (warm) one.
    fresh = "bad-requirements.txt" in str(extra)
    cache = tmp_path / "caches" / "private" if fresh else dep_cache
    cache.mkdir(parents=True, exist_ok=True)
    before = snapshot(dist)
    beside = sorted(os.listdir(tmp_path))

    result = run(*package_args(minimal_build, dist, cache), *extra)

    line = assert_one_error_line(result)
    for part in (expected,) if isinstance(expected, str) else expected:
        assert part in line
    assert snapshot(dist) == before
    assert os.listdir(dist) == ["lambda"], "temporary folders left next to dist/lambda"
    assert sorted(os.listdir(tmp_path)) == beside
    assert list(_isolated.iterdir()) == []
    if cache != dep_cache and (cache / "deps").exists():
        assert list((cache / "deps").iterdir()) == [], "partial dependency set left behind"


def test_refuses_to_replace_a_folder_it_did_not_create(
    minimal_build: Path, dep_cache: Path, tmp_path: Path
) -> None:
    mine = tmp_path / "dist" / "lambda"
    mine.mkdir(parents=True)
    (mine / "notes.txt").write_text("my own file")
    before = snapshot(tmp_path / "dist")
    line = assert_one_error_line(run(*package_args(minimal_build, tmp_path / "dist", dep_cache)))
    assert "is a non-empty folder that fastsplit did not create" in line
    assert snapshot(tmp_path / "dist") == before
    assert os.listdir(tmp_path / "dist") == ["lambda"]


@pytest.mark.parametrize(
    ("flags", "expected"),
    [
        (["--python", "3.9"], "error: --python 3.9 is not a Lambda Python; use 3.10 to 3.14"),
        (
            ["--target", "gcp"],
            "error: --target 'gcp' is not supported; use --target lambda or vercel",
        ),
    ],
)
def test_real_command_line_errors_without_traceback(
    flags: list[str], expected: str, minimal_build: Path, tmp_path: Path
) -> None:
    """The installed entry point, in a subprocess: one stderr line, exit 1."""
    command = [sys.executable, "-m", "fastsplit", "package", "--build", str(minimal_build)]
    result = subprocess.run(
        [*command, "--out", str(tmp_path / "dist"), *flags],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        env={**os.environ, "COLUMNS": "200"},
    )
    assert result.returncode == 1, result
    assert result.stderr.strip() == expected
    assert result.stdout == ""
    assert not (tmp_path / "dist").exists()
