"""Runtime benchmark (issue 6's slim benchmark, issue 7 sections 3-5): what a function
costs when it runs, measured on the packaged artifacts, next to hand-written baselines
from the same run.

    python -m bench.runtime_bench [--quick] [--keep]

* A (issue 6): on ``heavylight`` (bench/runtime_apps.py: a light route, a heavy route
  importing pandas, other light routes), the light route's slim function, the heavy
  route's slim function and the light route's full-mode function: zip and unzipped
  size, and cold start, each against the floor (a hand-written single-route FastAPI +
  Mangum file, zipped with fastapi, pydantic and mangum).
* B3: cold start of example_app's generated functions (a slim one, a full-mode one) vs
  a hand-written ``Mangum(app)`` over the whole app (the lambdalith) vs the floor.
* B4: warm per-request time of a generated handler vs plain Mangum on the same app vs
  the app called directly, in one process.
* B5: every function's zip (zipped and unzipped) vs the lambdalith's one zip.

Full mode adds the generated shop API (bench/apps) to B3-B5 and, to A, the same
artifacts with bytecode compiled in (which fastsplit does not ship). It only reports:
the targets are marked met or not met and the exit code is 0 unless a step failed.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import TypeVar

from bench import coldstart, runtime_report
from bench.apps import write_app
from bench.coldstart import ColdRun, LoopResult, child_env, http_event, unzip, write_event
from bench.harness import REPO_ROOT, BenchError, wheelhouse
from bench.measure import say, standalone
from bench.package_bench import APP_REQUIREMENTS
from bench.runtime_apps import FLOOR_HANDLER, lambdalith_handler, write_heavylight
from bench.runtime_artifacts import LOCAL, Artifacts, Packaged, Size
from bench.runtime_report import Loop, Subject

T = TypeVar("T")
# The heavy route's library; numpy pinned to the dev venv's, which `fastsplit build`
# imports next to this pandas when it imports the app.
PANDAS = ["pandas==3.1.1", f"numpy=={metadata.version('numpy')}"]
HEAVY_REQUIREMENTS = [*APP_REQUIREMENTS, *PANDAS]
SHOP_ROUTES = 10


def example_requirements() -> list[str]:
    text = (REPO_ROOT / "example_app" / "requirements.txt").read_text(encoding="utf-8")
    lines = [line.split("#", 1)[0].strip() for line in text.splitlines()]
    return [line for line in lines if line] + [f"mangum=={metadata.version('mangum')}"]


Query = Sequence[tuple[str, str]]
FLOOR_LABEL = "floor: hand-written FastAPI + Mangum, 1 route"


@dataclass(frozen=True)
class Run:
    """How a subject is started: the event file and the environment."""

    event: Path
    env: dict[str, str]


class Runtime:
    """One run: the artifacts, their unzipped folders, the events, then the measurements."""

    def __init__(self, work: Path, *, quick: bool) -> None:
        self.work = work
        self.quick = quick
        self.rounds = 3 if quick else 4
        # Many short batches, interleaved: on a shared machine a load spike then hits every
        # variant alike, and the median of many batches shrugs it off.
        self.iterations, self.batches = (50, 8) if quick else (100, 12)
        sets = [HEAVY_REQUIREMENTS, APP_REQUIREMENTS, example_requirements()]
        self.artifacts = Artifacts(work, wheels=wheelhouse(sets, target=LOCAL))
        self.subjects: dict[str, Subject] = {}
        self.sizes: dict[str, dict[str, Size]] = {}
        """Per app: every function's zip."""
        self.lith_sizes: dict[str, Size] = {}
        """Per app: its lambdalith's zip."""
        self.layered: dict[str, Packaged] = {}
        """Per app: ``fastsplit package --layer`` (sizes only)."""

    def subject(self, key: str, label: str, artifact: Path, *, size: Size, run: Run) -> None:
        """Unzip ``artifact`` into its own task folder, to be cold-started with ``run``."""
        folder = self.work / "task" / key
        seconds = unzip(artifact, folder)
        self.subjects[key] = Subject(key, label, folder, run.event, run.env, size, seconds)

    def function(self, key: str, label: str, dist: Packaged, name: str, run: Run) -> None:
        """A function of a ``fastsplit package`` output as a subject."""
        if name not in dist.manifest["functions"]:
            raise BenchError(f"no function {name!r} in {dist.folder}: fastsplit's names changed?")
        self.subject(key, label, dist.zip(name), size=dist.size(name), run=run)

    def run_with(
        self, name: str, path: str, *, route: str, env: dict[str, str], query: Query = ()
    ) -> Run:
        """A GET request's HTTP API event (in a file, for the child processes) and env."""
        event = http_event("GET", path, route=route, query=query)
        return Run(write_event(self.work, name, event), env)

    def lambdalith(self, name: str, app_ref: str, package: Path, requirements: list[str]) -> Path:
        """One hand-made zip of the whole app: its requirements, package, Mangum(app)."""
        site = self.artifacts.site(requirements, bytecode=False)
        trees = [(site, site), (package.parent, package)]
        handler = lambdalith_handler(app_ref)
        artifact, size = self.artifacts.hand_zip(name, trees=trees, handler=handler)
        self.lith_sizes[name] = size
        return artifact

    # --- the apps ------------------------------------------------------------------------

    def heavylight(self) -> None:
        say("heavylight: build (slim and full), package, floor")
        arts = self.artifacts
        app = write_heavylight(self.work / "apps" / "heavylight")
        build_site = [arts.site(PANDAS, bytecode=True)]  # the dev venv has no pandas
        flags = ("--no-docs", "--no-fallback")
        ref, folder = app.app_ref, app.app_dir
        slim = arts.build("heavylight-slim", ref, folder, *flags, pythonpath=build_site)
        full = arts.build("heavylight-full", ref, folder, *flags, "--mode", "full",
                          pythonpath=build_site)  # fmt: skip
        slim_dist = arts.package("heavylight-slim", slim, HEAVY_REQUIREMENTS)
        full_dist = arts.package("heavylight-full", full, HEAVY_REQUIREMENTS)
        env = child_env(self.work / "home-heavylight")
        hello = self.run_with("hello", "/hello/world", route="/hello/{name}", env=env)
        values = [("values", "1"), ("values", "2.5"), ("values", "4")]
        report = self.run_with("report", "/report", route="/report", env=env, query=values)
        site = arts.site(APP_REQUIREMENTS, bytecode=False)
        floor, size = arts.hand_zip("floor", trees=[(site, site)], handler=FLOOR_HANDLER)
        self.subject("floor", FLOOR_LABEL, floor, size=size, run=hello)
        self.function("light", "light route, slim function", slim_dist, "get_hello_name", hello)
        if not self.quick:  # no target is about it; quick mode saves its pandas cold starts
            heavy = "heavy route (pandas), slim function"
            self.function("heavy", heavy, slim_dist, "get_report", report)
        full_label = "light route, full-mode function"
        self.function("full", full_label, full_dist, "get_hello_name", hello)
        if not self.quick:
            for key in ("floor", "light", "full"):
                self._with_bytecode(key)

    def _with_bytecode(self, key: str) -> None:
        """The same folder with every module compiled (what shipping .pyc would give)."""
        source = self.subjects[key]
        folder = self.work / "task" / f"{key}-pyc"
        shutil.copytree(source.folder, folder)
        coldstart.compile_folder(folder)
        label = f"{source.label}, with bytecode"
        self.subjects[f"{key}-pyc"] = Subject(
            f"{key}-pyc", label, folder, source.event, source.env, source.size, source.unzip_s
        )

    def example(self) -> None:
        say("example_app: build, package, lambdalith")
        build = self.artifacts.build("example_app", "example_app.main:app", REPO_ROOT)
        requirements = example_requirements()
        dist = self.artifacts.package("example_app", build, requirements)
        db = self.work / "example_app.sqlite3"
        _seed_example_db(db)
        env = child_env(self.work / "home-example", {"EXAMPLE_APP_DB": str(db)})
        items = self.run_with("items", "/items/1", route="/items/{item_id}", env=env)
        slim = "example_app GET /items/{item_id}, slim function"
        self.function("ex-items", slim, dist, "get_items_item_id", items)
        if not self.quick:
            health = self.run_with("health", "/health", route="/health", env=env)
            full = "example_app GET /health, full-mode function"
            self.function("ex-health", full, dist, "get_health", health)
        package = REPO_ROOT / "example_app"
        lith = self.lambdalith("example_app", "example_app.main:app", package, requirements)
        label = "example_app lambdalith: Mangum(app), one zip"
        self.subject("ex-lith", label, lith, size=self.lith_sizes["example_app"], run=items)
        self.sizes["example_app"] = dist.sizes()
        layered = self.artifacts.package("example_app-layer", build, requirements, "--layer")
        self.layered["example_app"] = layered

    def shop(self) -> None:
        name = f"shopapi-{SHOP_ROUTES}"
        say(f"{name}: build, package, lambdalith")
        app = write_app(self.work / "apps" / "shop", routes=SHOP_ROUTES)
        flags = ("--no-docs", "--no-fallback")
        build = self.artifacts.build("shopapi", app.app_ref, app.app_dir, *flags)
        dist = self.artifacts.package("shopapi", build, APP_REQUIREMENTS)
        env = child_env(self.work / "home-shop")
        query = [("offset", "0"), ("limit", "10")]
        products = self.run_with("products", "/products", route="/products", env=env, query=query)
        self.function("shop-list", f"{name} GET /products, slim function", dist, "get_products",
                      products)  # fmt: skip
        package = app.app_dir / "shopapi"
        lith = self.lambdalith(name, app.app_ref, package, APP_REQUIREMENTS)
        label = f"{name} lambdalith: Mangum(app), one zip"
        self.subject("shop-lith", label, lith, size=self.lith_sizes[name], run=products)
        self.sizes[name] = dist.sizes()
        self.layered[name] = self.artifacts.package(f"{name}-layer", build, APP_REQUIREMENTS,
                                                    "--layer")  # fmt: skip

    # --- the measurements ----------------------------------------------------------------

    def cold_starts(self) -> dict[str, list[ColdRun]]:
        """Every subject once per round, round after round: load drifts hit all alike."""
        say(f"cold starts: {len(self.subjects)} artifacts x {self.rounds} rounds")
        runs: dict[str, list[ColdRun]] = {key: [] for key in self.subjects}
        for _ in range(self.rounds):
            for key, subject in self.subjects.items():
                runs[key].append(
                    coldstart.cold_start(subject.folder, subject.event, env=subject.env)
                )
        return runs

    def loops(self) -> list[Loop]:
        say(f"warm loops: {self.iterations} requests x {self.batches} batches per variant")
        chosen = [
            ("light", "heavylight GET /hello/{name}"),
            ("ex-items", "example_app GET /items/{item_id}"),
            ("shop-list", f"shopapi-{SHOP_ROUTES} GET /products"),
        ]
        loops = []
        for key, label in chosen:
            subject = self.subjects.get(key)
            if subject is None:
                continue
            result: LoopResult = coldstart.warm_loop(
                subject.folder, subject.event, env=subject.env,
                variants=("handler", "mangum", "mangum-off", "asgi", "again"),
                iterations=self.iterations, batches=self.batches,
            )  # fmt: skip
            loops.append(Loop(label, result))
        return loops


def _timed_step(step: Callable[[], T]) -> T:
    started = time.monotonic()
    result = step()
    say(f"  ({time.monotonic() - started:.1f} s)")
    return result


def _seed_example_db(path: Path) -> None:
    """Create and seed example_app's database once, so no cold start pays for seeding."""
    from example_app import db

    db.init_db(str(path))


def run(quick: bool, work: Path) -> str:
    """The whole runtime benchmark in ``work``; returns its markdown section."""
    started, load = time.monotonic(), os.getloadavg()[0]
    work.mkdir(parents=True, exist_ok=True)
    say(f"fastsplit runtime benchmark ({'quick' if quick else 'full'}), work folder {work}")
    bench = Runtime(work, quick=quick)
    steps = [bench.heavylight, bench.example, *([] if quick else [bench.shop])]
    for step in steps:
        _timed_step(step)
    cold = _timed_step(bench.cold_starts)
    loops = _timed_step(bench.loops)
    return runtime_report.markdown(
        runtime_report.Results(
            quick=quick,
            rounds=bench.rounds,
            iterations=bench.iterations,
            batches=bench.batches,
            subjects=bench.subjects,
            cold=cold,
            loops=loops,
            sizes=bench.sizes,
            lambdaliths=bench.lith_sizes,
            layered={app: (d.sizes(), d.layer()) for app, d in bench.layered.items()},
            load_before=load,
            load_after=os.getloadavg()[0],
            elapsed=time.monotonic() - started,
        )
    )


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.runtime_bench",
        description="Runtime benchmark: cold starts, per-request overhead, artifact sizes.",
    )
    parser.add_argument("--quick", action="store_true", help="fewer runs, no shop API")
    parser.add_argument("--keep", action="store_true", help="keep the work folder")
    args = parser.parse_args(argv)
    key = "runtime-quick" if args.quick else "runtime-full"
    return standalone("runtime-", key, lambda work: run(args.quick, work), keep=args.keep)


if __name__ == "__main__":
    sys.exit(main())
