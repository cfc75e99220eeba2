"""The measurements: each tool's cold and warm runs, in one work folder, one at a time."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import sys
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from statistics import median

from bench import incumbents
from bench.harness import (
    REPO_ROOT,
    RESULTS,
    TARGET,
    WORK_ROOT,
    BenchError,
    Sample,
    Tools,
    offline_env,
    timed,
)
from bench.report import DepsRow, Timing, save_section

MB = 1024 * 1024
# The marginal cost per function is a small difference of two totals: one run is too
# noisy for it, and warm runs are cheap.
DEPS_MIN_RUNS = 5


@dataclass(frozen=True)
class Built:
    """A ``fastsplit build`` output folder and how many functions it has."""

    name: str
    build: Path
    functions: int


def say(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


def standalone(prefix: str, key: str, produce: Callable[[Path], str], *, keep: bool) -> int:
    """One benchmark from its own command line: ``produce`` the markdown in a new work
    folder under bench/work, print it and save it as section ``key`` of results.md.
    The folder is removed unless ``keep`` (or the benchmark failed)."""
    WORK_ROOT.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=prefix, dir=WORK_ROOT))
    try:
        text = produce(work)
    except BenchError as error:
        say(f"error: {error}\n(work folder kept: {work})")
        return 1
    print(text)
    save_section(RESULTS, key, text)
    say(f"saved to {RESULTS.relative_to(REPO_ROOT)}")
    if keep:
        say(f"work folder kept: {work}")
    else:
        shutil.rmtree(work, ignore_errors=True)
    return 0


class Bench:
    """Runs every command offline in ``work``, each with its own HOME unless warm."""

    def __init__(self, work: Path, *, runs: int, tools: Tools, wheels: Path) -> None:
        self.work = work
        self.runs = runs
        self.tools = tools
        self.wheels = wheels
        self._counter = 0
        # A dependency cache already filled with a requirements file, to reuse when warm.
        self._filled: dict[Path, Path] = {}

    def fresh(self, name: str) -> Path:
        self._counter += 1
        path = self.work / f"{self._counter:03d}-{name}"
        path.mkdir(parents=True)
        return path

    def log(self, name: str) -> Path:
        self._counter += 1
        return self.work / "logs" / f"{self._counter:03d}-{name}.log"

    def requirements(self, name: str, lines: Sequence[str]) -> Path:
        path = self.work / f"requirements-{name}.txt"
        path.write_text("\n".join(lines) + "\n", encoding="utf-8")
        return path

    def repeat(self, label: str, count: int, functions: int, run: Callable[[], Sample]) -> Timing:
        return _timing(label, [_synced(run) for _ in range(count)], functions)

    # --- fastsplit -----------------------------------------------------------------------

    def build(self, name: str, app_ref: str, app_dir: Path, *flags: str) -> Built:
        """``fastsplit build`` (not timed: the benchmark is about packaging)."""
        out = self.work / "builds" / name
        command = [sys.executable, "-m", "fastsplit", "build", app_ref, "--app-dir", app_dir]
        command += ["--out", out, *flags]
        env = offline_env(self.fresh(f"home-build-{name}"))
        timed(command, cwd=self.work, env=env, log=self.log(name), wheelhouse=self.wheels)
        manifest = json.loads((out / "manifest.json").read_text(encoding="utf-8"))
        return Built(name, out, len(manifest["functions"]))

    def package(self, built: Built, requirements: Path, *, cache: Path, out: Path) -> Sample:
        """``fastsplit package`` with HOME next to the cache (new cache, new HOME)."""
        command = [
            sys.executable, "-m", "fastsplit", "package", "--build", built.build,
            "--out", out, "--requirements", requirements, "--python", TARGET.python,
            "--cache-dir", cache,
        ]  # fmt: skip
        env = offline_env(cache.parent / "home")
        log = self.log(f"fastsplit-{built.name}")
        return timed(command, cwd=self.work, env=env, log=log, wheelhouse=self.wheels)

    def cold_warm(self, built: Built, requirements: Path) -> tuple[Timing, Timing]:
        """Cold: a new cache and HOME every run. Warm: the last cold run's cache and dist,
        packaged again in place (what a second ``fastsplit package`` does)."""
        roots: list[Path] = []

        def cold() -> Sample:
            roots.append(self.fresh(f"fs-cold-{built.name}"))
            cache, out = roots[-1] / "cache", roots[-1] / "dist"
            return self.package(built, requirements, cache=cache, out=out)

        cold_timing = self.repeat("fastsplit cold", self.runs, built.functions, cold)
        cache, out = roots[-1] / "cache", roots[-1] / "dist"
        self._filled[requirements] = cache
        return cold_timing, self.warm(built, requirements, cache=cache, out=out)

    def warm(self, built: Built, requirements: Path, *, cache: Path, out: Path) -> Timing:
        def run() -> Sample:
            return self.package(built, requirements, cache=cache, out=out)

        return self.repeat("fastsplit warm", self.runs, built.functions, run)

    def deps_row(self, name: str, requirements: Path, big: Built, small: Built) -> DepsRow:
        """Warm timings of both apps with one dependency set, sharing one filled cache."""
        lines = requirements.read_text(encoding="utf-8").split()
        say(f" {name} dependency set: {', '.join(lines)}")
        root = self.fresh(f"fs-deps-{name}")
        # Only warm runs are timed here: a cache filled by an earlier bench run will do.
        digest = hashlib.sha256("\n".join(lines).encode()).hexdigest()[:12]
        cache = self._filled.get(requirements) or WORK_ROOT / "deps-cache" / digest
        warm: list[tuple[str, Built, Callable[[], Sample]]] = []
        floors: list[tuple[str, Built, Callable[[], Sample]]] = []
        for app in (big, small):
            out = root / f"dist-{app.name}"
            self.package(app, requirements, cache=cache, out=out)  # fills cache and dist
            run = partial(self.package, app, requirements, cache=cache, out=out)
            warm.append((f"fastsplit warm, {app.name}", app, run))
            floor = self.write_floor(app, out / "lambda", root / f"floor-{app.name}")
            floors.append((f"writing the zips' bytes, {app.name}", app, floor))
        commands = warm + floors
        # The runs take turns (the big app's, the small one's, then writing their zips'
        # bytes alone): the marginal cost per function is a difference of two totals, and
        # this machine's speed drifts by tens of percent within minutes.
        samples: list[list[Sample]] = [[] for _ in commands]
        for _ in range(max(self.runs, DEPS_MIN_RUNS)):
            for (_, _, command), runs in zip(commands, samples, strict=True):
                runs.append(_synced(command))
        timings = [
            _timing(label, runs, app.functions)
            for (label, app, _), runs in zip(commands, samples, strict=True)
        ]
        unzipped, zipped = _deps_sizes(cache)
        return DepsRow(name, ", ".join(lines), unzipped / MB, zipped / MB, *timings)

    def write_floor(self, built: Built, dist: Path, root: Path) -> Callable[[], Sample]:
        """A run writing the same zips' bytes again, replacing the previous copy
        (bench/write_floor.py), run like fastsplit (same wrapper): the least any tool
        that makes these zips spends per run."""
        command = [sys.executable, Path(__file__).with_name("write_floor.py"), dist, root]
        env = offline_env(root.parent / "home")
        log = self.log(f"write-floor-{built.name}")
        return partial(timed, command, cwd=self.work, env=env, log=log, wheelhouse=self.wheels)

    # --- incumbents ----------------------------------------------------------------------

    def sam(
        self, built: Built, requirements: Path, *, plain: bool, sequential_cold: bool = False
    ) -> tuple[Timing | None, Timing, Timing]:
        """Cold plain ``sam build`` (with ``plain``), a cold cached build on a fresh copy with
        a new HOME, then ``sam build --cached --parallel`` again on that copy (warm).

        The cold cached build is ``--cached --parallel`` (SAM's fastest cold build), or with
        ``sequential_cold`` ``--cached`` alone: one function after the other like plain
        ``sam build`` (the issue's baseline), while filling the cache the warm build reads.
        """

        def project(flags: tuple[str, ...], folder: Path | None = None) -> Callable[[], Sample]:
            if folder is None:
                folder = self.fresh(f"sam-{built.name}")
                incumbents.prepare_sam(built.build, folder / "project", requirements)
            where = folder

            def run() -> Sample:
                return incumbents.sam_build(
                    where / "project", flags=flags, home=where / "home",
                    wheelhouse=self.wheels, tools=self.tools, log=self.log(f"sam-{built.name}"),
                )  # fmt: skip

            return run

        n = built.functions
        plain_cold = self.repeat("sam build, cold", 1, n, project(())) if plain else None
        cold_flags = ("--cached",) if sequential_cold else incumbents.SAM_FAST
        folder = self.fresh(f"sam-{built.name}")
        incumbents.prepare_sam(built.build, folder / "project", requirements)
        label = f"sam build {' '.join(cold_flags)}, cold (no .aws-sam)"
        if sequential_cold:
            label += ", one function after the other"
        cold = self.repeat(label, 1, n, project(cold_flags, folder))
        fast = f"sam build {' '.join(incumbents.SAM_FAST)}"
        warm = self.repeat(f"{fast}, warm", self.runs, n, project(incumbents.SAM_FAST, folder))
        return plain_cold, cold, warm

    def osls(self, built: Built, requirements: Path, *, warm: bool) -> tuple[Timing, Timing | None]:
        """``osls package`` with a new HOME (the plugin caches there), then the same HOME."""
        service = self.work / f"osls-{built.name}"
        incumbents.prepare_osls(built.build, service, requirements)
        home = self.fresh("home-osls")

        def run() -> Sample:
            log = self.log(f"osls-{built.name}")
            return incumbents.osls_package(
                service, home=home, wheelhouse=self.wheels, tools=self.tools, log=log
            )

        label = "osls package + serverless-python-requirements"
        cold = self.repeat(f"{label}, empty plugin cache", 1, built.functions, run)
        if not warm:
            return cold, None
        return cold, self.repeat(f"{label}, filled plugin cache", 1, built.functions, run)


def _deps_sizes(cache: Path) -> tuple[int, int]:
    """Unzipped bytes of the installed set and bytes of its compressed zip, from a cache."""
    (folder,) = (cache / "deps").iterdir()
    unzipped = sum(p.stat().st_size for p in (folder / "site").rglob("*") if p.is_file())
    zipped = max(p.stat().st_size for p in folder.glob("deps-*.zip"))
    return unzipped, zipped


def _synced(run: Callable[[], Sample]) -> Sample:
    """``run()`` right after a sync: it starts with the previous run's files on disk, as a
    user's previous dist/ is, and none of their writeback left to charge to it (a warm
    run with the large dependency set writes about 1 GB of zips)."""
    os.sync()
    return run()


def _timing(label: str, samples: list[Sample], functions: int) -> Timing:
    walls = tuple(sample.wall for sample in samples)
    cpus = tuple(sample.cpu for sample in samples)
    users = tuple(sample.user for sample in samples)
    timing = Timing(
        label, median(walls), median(cpus), walls, functions, median(users), cpus, users
    )
    say(f"  {label}: {timing.describe()}")
    return timing
