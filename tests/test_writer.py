"""Writing a build: atomic (a failed write leaves the previous build untouched), never
replacing folders fastsplit did not create, deterministic and free of absolute paths."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import pytest

from fastsplit.config import Config
from fastsplit.errors import BuildError, FastsplitError
from fastsplit.generator import OutputFile, render_build
from fastsplit.writer import check_out_dir, is_fastsplit_output, remove_tree, write_build
from tests.conftest import APPS, REPO, build_to, plan_for


@pytest.fixture(autouse=True)
def _no_bytecode_in_the_repo(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sys, "dont_write_bytecode", True)


def snapshot(folder: Path) -> dict[str, bytes]:
    """Every file under ``folder`` (relative POSIX path → bytes)."""
    return {
        path.relative_to(folder).as_posix(): path.read_bytes()
        for path in sorted(folder.rglob("*"))
        if path.is_file()
    }


def listing(folder: Path) -> list[str]:
    return sorted(path.relative_to(folder).as_posix() for path in folder.rglob("*"))


def leftovers(parent: Path) -> list[str]:
    return sorted(p.name for p in parent.iterdir() if ".tmp-" in p.name or ".old-" in p.name)


@pytest.fixture
def parent(tmp_path: Path) -> Path:
    """A folder for --out with unrelated neighbours that must survive every build."""
    folder = tmp_path / "project"
    folder.mkdir()
    (folder / "neighbour.txt").write_text("keep me\n")
    (folder / "other").mkdir()
    (folder / "other" / "file.txt").write_text("keep me too\n")
    return folder


BROKEN = OutputFile("functions/get_x/missing.py", copy_from="no/such/file.py")


# ---------------------------------------------------------------- happy path


def test_build_writes_function_folders_and_deploy_files(tmp_path: Path) -> None:
    out = build_to(tmp_path / "build", "minimal:app")
    assert listing(out) == [
        "functions",
        "functions/docs",
        "functions/docs/fastsplit_runtime.py",
        "functions/docs/handler.py",
        "functions/docs/minimal.py",
        "functions/fallback",
        "functions/fallback/fastsplit_runtime.py",
        "functions/fallback/handler.py",
        "functions/get_hello",
        "functions/get_hello/fastsplit_runtime.py",
        "functions/get_hello/handler.py",
        "functions/get_hello/minimal.py",
        "functions/get_hello_name",
        "functions/get_hello_name/fastsplit_runtime.py",
        "functions/get_hello_name/handler.py",
        "functions/get_hello_name/minimal.py",
        "imports.json",
        "manifest.json",
        "serverless.yml",
        "template.yaml",
    ]


def test_written_files_are_exactly_the_rendered_outputs(tmp_path: Path) -> None:
    plan = plan_for("mounts:app")
    outputs = render_build(plan)
    out = tmp_path / "build"
    write_build(outputs, out=out, app_dir=APPS)
    files = snapshot(out)
    assert sorted(files) == sorted(output.path for output in outputs)
    for output in outputs:
        if output.text is not None:
            assert files[output.path] == output.text.encode("utf-8")
        else:
            assert output.copy_from is not None
            assert files[output.path] == (APPS / output.copy_from).read_bytes()


def test_app_files_are_copied_verbatim(tmp_path: Path) -> None:
    out = build_to(tmp_path / "build", "mounts:app")
    static = out / "functions" / "mount_static" / "mounts_static" / "note.txt"
    assert static.read_bytes() == (APPS / "mounts_static" / "note.txt").read_bytes()
    copied = out / "functions" / "get_root" / "mounts.py"
    assert copied.read_bytes() == (APPS / "mounts.py").read_bytes()


def test_file_and_folder_permissions_are_normalised(tmp_path: Path) -> None:
    out = build_to(tmp_path / "build", "minimal:app")
    assert (out.stat().st_mode & 0o777) == 0o755
    for path in out.rglob("*"):
        if path.is_file():
            assert (path.stat().st_mode & 0o777) == 0o644, path


@pytest.mark.parametrize("umask", [0o077, 0o027, 0o002, 0o000])
def test_permissions_do_not_depend_on_the_umask(tmp_path: Path, umask: int) -> None:
    previous = os.umask(umask)
    try:
        out = build_to(tmp_path / "build", "minimal:app")
    finally:
        os.umask(previous)
    modes = {path.is_dir(): set() for path in out.rglob("*")}
    for path in out.rglob("*"):
        modes[path.is_dir()].add(path.stat().st_mode & 0o777)
    assert modes == {True: {0o755}, False: {0o644}}


def test_manifest_marks_the_folder_as_fastsplit_output(tmp_path: Path) -> None:
    out = build_to(tmp_path / "build", "minimal:app")
    assert is_fastsplit_output(out)
    assert "fastsplit_version" in json.loads((out / "manifest.json").read_text())


def test_missing_parent_folders_are_created(tmp_path: Path) -> None:
    out = build_to(tmp_path / "a" / "b" / "build", "minimal:app")
    assert (out / "manifest.json").is_file()


def test_relative_out_is_resolved_against_the_working_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    build_to(Path("rel-build"), "minimal:app")
    assert (tmp_path / "rel-build" / "manifest.json").is_file()
    assert leftovers(tmp_path) == []


# ---------------------------------------------------------------- atomicity


def test_successful_build_leaves_no_temporary_folders(parent: Path) -> None:
    build_to(parent / "build", "minimal:app")
    build_to(parent / "build", "minimal:app")
    assert sorted(p.name for p in parent.iterdir()) == ["build", "neighbour.txt", "other"]


def test_failed_write_leaves_the_previous_build_byte_identical(parent: Path) -> None:
    out = build_to(parent / "build", "minimal:app")
    before = snapshot(out)
    good = [OutputFile("manifest.json", '{"fastsplit_version": "x"}\n')]
    with pytest.raises((OSError, FastsplitError)):
        write_build([*good, OutputFile("functions/a.txt", "half"), BROKEN], out=out, app_dir=APPS)
    assert snapshot(out) == before
    assert leftovers(parent) == []


def test_failed_first_build_creates_nothing(parent: Path) -> None:
    before = listing(parent)
    with pytest.raises((OSError, FastsplitError)):
        write_build(
            [OutputFile("manifest.json", "{}\n"), BROKEN], out=parent / "build", app_dir=APPS
        )
    assert listing(parent) == before


def test_failed_write_of_an_app_file_keeps_the_previous_build(parent: Path) -> None:
    out = build_to(parent / "build", "minimal:app")
    before = snapshot(out)
    outputs = [*render_build(plan_for("minimal:app")), BROKEN]
    with pytest.raises((OSError, FastsplitError)):
        write_build(sorted(outputs, key=lambda o: o.path), out=out, app_dir=APPS)
    assert snapshot(out) == before
    assert sorted(p.name for p in parent.iterdir()) == ["build", "neighbour.txt", "other"]


def test_write_failure_is_a_build_error(parent: Path) -> None:
    with pytest.raises(BuildError):
        write_build([BROKEN], out=parent / "build", app_dir=APPS)


def test_a_new_build_replaces_the_previous_one_completely(parent: Path) -> None:
    out = build_to(parent / "build", "minimal:app")
    (out / "functions" / "get_hello" / "stale.txt").write_text("old")
    build_to(out, "minimal:app", config=Config(docs=False))
    assert not (out / "functions" / "docs").exists()
    assert not (out / "functions" / "get_hello" / "stale.txt").exists()
    assert snapshot(out) == {
        output.path: (
            output.text.encode("utf-8")
            if output.text is not None
            else (APPS / str(output.copy_from)).read_bytes()
        )
        for output in render_build(plan_for("minimal:app", config=Config(docs=False)))
    }
    assert sorted(p.name for p in parent.iterdir()) == ["build", "neighbour.txt", "other"]


def test_an_empty_folder_is_used_as_out(parent: Path) -> None:
    (parent / "build").mkdir()
    build_to(parent / "build", "minimal:app")
    assert (parent / "build" / "manifest.json").is_file()


# ---------------------------------------------------------------- refusing folders


def test_refuses_a_non_empty_folder_fastsplit_did_not_create(parent: Path) -> None:
    before = snapshot(parent)
    with pytest.raises(BuildError) as info:
        build_to(parent / "other", "minimal:app")
    message = str(info.value)
    assert "is a non-empty folder that fastsplit did not create" in message
    assert "\n" not in message
    assert snapshot(parent) == before
    assert leftovers(parent) == []


@pytest.mark.parametrize(
    "manifest",
    [b"not json", b"[]", b'{"app": "x"}', b"\xff\xfe"],
)
def test_refuses_a_folder_whose_manifest_is_not_fastsplits(parent: Path, manifest: bytes) -> None:
    out = parent / "lookalike"
    out.mkdir()
    (out / "manifest.json").write_bytes(manifest)
    with pytest.raises(BuildError):
        check_out_dir(out)
    assert (out / "manifest.json").read_bytes() == manifest


def test_refuses_a_file_as_out(parent: Path) -> None:
    with pytest.raises(BuildError) as info:
        build_to(parent / "neighbour.txt", "minimal:app")
    assert "is a file, not a folder" in str(info.value)
    assert (parent / "neighbour.txt").read_text() == "keep me\n"


def test_refuses_a_symlink_as_out(parent: Path) -> None:
    first = build_to(parent / "real-build", "minimal:app")
    link = parent / "link"
    link.symlink_to(first, target_is_directory=True)
    before = snapshot(first)
    with pytest.raises(BuildError):
        build_to(link, "minimal:app")
    assert link.is_symlink()
    assert snapshot(first) == before


def test_write_build_checks_the_folder_itself(parent: Path) -> None:
    """write_build refuses on its own, not only when the CLI checked first."""
    with pytest.raises(BuildError):
        write_build(render_build(plan_for("minimal:app")), out=parent / "other", app_dir=APPS)
    assert (parent / "other" / "file.txt").read_text() == "keep me too\n"


# ---------------------------------------------------------------- determinism


@pytest.mark.parametrize(
    ("app_ref", "app_dir"),
    [
        ("minimal:app", APPS),
        ("nasty:app", APPS),
        ("mounts:app", APPS),
        ("example_app.main:app", REPO),
    ],
)
def test_building_twice_gives_byte_identical_trees(
    tmp_path: Path, app_ref: str, app_dir: Path
) -> None:
    first = build_to(tmp_path / "one" / "build", app_ref, app_dir)
    second = build_to(tmp_path / "two" / "build", app_ref, app_dir)
    assert listing(first) == listing(second)
    assert snapshot(first) == snapshot(second)


def test_rebuilding_in_place_gives_byte_identical_trees(tmp_path: Path) -> None:
    out = build_to(tmp_path / "build", "nasty:app")
    before = snapshot(out)
    build_to(out, "nasty:app")
    assert snapshot(out) == before


def assert_no_absolute_paths(out: Path) -> None:
    forbidden = {str(out.parent), str(out.parent.resolve()), str(REPO), str(APPS)}
    for relative, data in snapshot(out).items():
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError:
            continue
        for path in forbidden:
            assert path not in text, f"{relative} contains {path}"


@pytest.mark.parametrize("app_ref", ["nasty:app", "mounts:app", "settings:app"])
def test_no_absolute_paths_in_generated_text(tmp_path: Path, app_ref: str) -> None:
    assert_no_absolute_paths(build_to(tmp_path / "build", app_ref))


def test_no_absolute_paths_in_the_example_app_build(example_build: Path) -> None:
    assert_no_absolute_paths(example_build)


def test_no_absolute_paths_in_the_manifest(example_build: Path) -> None:
    manifest = json.loads((example_build / "manifest.json").read_text())
    for fn in manifest["functions"]:
        assert not os.path.isabs(fn["folder"])
        assert all(not os.path.isabs(file) for file in fn["files"])


def app_copies(app_dir: Path, names: tuple[str, ...], functions: int) -> list[OutputFile]:
    """An app folder with the files ``names`` (each "# NAME"), and a copy of each in
    every one of ``functions`` function folders."""
    for name in names:
        (app_dir / name).parent.mkdir(parents=True, exist_ok=True)
        (app_dir / name).write_text(f"# {name}\n", "utf-8")
    return [
        OutputFile(f"functions/f{index:04}/{name}", copy_from=name)
        for index in range(functions)
        for name in names
    ]


def test_many_copies_of_the_app_files_are_links_to_one_copy(tmp_path: Path) -> None:
    # Enough copies for the links to be made by several threads (BATCH each).
    app_dir = tmp_path / "app"
    outputs = app_copies(app_dir, ("a.py", "b.py", "c.txt"), 1500)
    outputs.append(OutputFile("manifest.json", '{"fastsplit_version": "0"}\n'))
    out = tmp_path / "build"
    write_build(outputs, out=out, app_dir=app_dir)
    written = sorted(p for p in out.rglob("*") if p.is_file())
    assert len(written) == 4501
    for name in ("a.py", "b.py", "c.txt"):
        copies = list(out.glob(f"functions/*/{name}"))
        assert len(copies) == 1500
        assert {p.read_text("utf-8") for p in copies} == {f"# {name}\n"}
        assert {p.stat().st_ino for p in copies} == {copies[0].stat().st_ino}
        assert {p.stat().st_mode & 0o777 for p in copies} == {0o644}


def test_many_generated_files_are_written_and_identical_ones_linked(tmp_path: Path) -> None:
    # Enough files for several threads (BATCH each): each handler its own text, the
    # runtime module the same text in every function (one file, linked).
    outputs = [
        OutputFile(f"functions/f{index:04}/{name}", text)
        for index in range(2500)
        for name, text in (("handler.py", f"# handler {index}\n"), ("runtime.py", "# same\n"))
    ]
    outputs.append(OutputFile("manifest.json", '{"fastsplit_version": "0"}\n'))
    out = tmp_path / "build"
    write_build(outputs, out=out, app_dir=tmp_path)
    handlers = sorted(out.glob("functions/*/handler.py"))
    assert [p.read_text("utf-8") for p in handlers] == [f"# handler {i}\n" for i in range(2500)]
    runtimes = list(out.glob("functions/*/runtime.py"))
    assert len(runtimes) == 2500
    assert {p.read_text("utf-8") for p in runtimes} == {"# same\n"}
    assert {p.stat().st_ino for p in runtimes} == {runtimes[0].stat().st_ino}
    assert len({p.stat().st_ino for p in handlers}) == 2500
    files = [*handlers, *runtimes, out / "manifest.json"]
    assert {p.stat().st_mode & 0o777 for p in files} == {0o644}


def test_nested_package_folders_of_many_functions_are_made_by_threads(tmp_path: Path) -> None:
    # More function folders than one thread's batch, each with nested packages (a
    # folder is made after its parent, in whichever thread makes that function's).
    app_dir = tmp_path / "app"
    names = ("shop/__init__.py", "shop/routers/__init__.py", "shop/routers/items.py")
    outputs = app_copies(app_dir, names, 300)
    outputs += [OutputFile(f"functions/f{i:04}/handler.py", f"# {i}\n") for i in range(300)]
    outputs.append(OutputFile("vercel/api/deep/er/index.py", "# vercel\n"))
    outputs.append(OutputFile("manifest.json", '{"fastsplit_version": "0"}\n'))
    out = tmp_path / "build"
    write_build(outputs, out=out, app_dir=app_dir)
    assert sorted(p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file()) == sorted(
        o.path for o in outputs
    )
    folders = [p for p in out.rglob("*") if p.is_dir()]
    assert len(folders) == 2 + 300 * 3 + 3  # functions, vercel; f*, shop, routers; api/deep/er
    assert {p.stat().st_mode & 0o777 for p in folders} == {0o755}


def test_remove_tree_removes_a_big_build_and_anything_else(tmp_path: Path) -> None:
    build = tmp_path / "old"
    for index in range(250):  # more than one thread's batch of function folders
        folder = build / "functions" / f"f{index}" / "pkg"
        folder.mkdir(parents=True)
        (folder / "mod.py").write_text("x = 1\n", "utf-8")
        (folder.parent / "handler.py").write_text("", "utf-8")
    (build / "functions" / "stray.txt").write_text("not a folder", "utf-8")
    (build / "manifest.json").write_text("{}", "utf-8")
    remove_tree(build)
    assert not build.exists()
    remove_tree(tmp_path / "missing")  # nothing there: nothing to do
