"""The build-time proof of slim functions, and what each one imports.

For every function the planner made slim, its handler is rendered and imported in a
fresh interpreter (:mod:`fastsplit.probe`). The function stays slim
only if, there, the rebuilt app describes exactly like the monolith did (app settings,
middleware with their options, exception handlers, dependency overrides, lifespan, every
route option and the OpenAPI operations) and the import did not load the module that
assembles the app. Otherwise it becomes a full function, with a diagnostic saying why:
an unproven slim function is never shipped.

What the import loaded becomes the function's :class:`~fastsplit.model.Imports`
(:mod:`fastsplit.closure`): the application files it carries and the third-party
packages (and distributions) it needs, each with the import chain that pulled it in.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor, wait
from contextlib import ExitStack
from dataclasses import replace
from pathlib import Path
from typing import Any

import fastsplit
from fastsplit.closure import clear_caches, first_party, import_chain, record_imports
from fastsplit.fingerprint import expected_fingerprint, module_state, state_digest
from fastsplit.generator import render_handler
from fastsplit.model import (
    AppSpec,
    BuildPlan,
    Function,
    SlimRoute,
)
from fastsplit.parser import import_module
from fastsplit.planner import diagnostic_order, not_slim_diagnostics
from fastsplit.proof_io import (
    TIMEOUT,
    Arrivals,
    ProofAhead,
    proof_ahead,
    run,
    spread,
)

ARRIVALS = 0.02  # seconds between looks for new answers


def prove_plan(
    plan: BuildPlan, *, app_dir: Path, jobs: int = 0, ahead: ProofAhead | None = None
) -> BuildPlan:
    """The plan with every slim function proven (and its imports recorded) or made full;
    ``ahead``: the proof's folder and probe, started before the app was described."""
    candidates = [f for f in plan.functions if f.mode == "slim"]
    if not candidates:
        return plan
    clear_caches()
    app_dir = app_dir.resolve()
    if plan.spec.module not in sys.modules:
        # The monolith's modules are compared with the rebuilt app's: import them.
        import_module(plan.spec.module, app_dir=app_dir)
    # Answers are judged as they arrive, while the probe proves the next functions.
    judged: dict[str, tuple[dict[str, Any], Function]] = {}
    by_name = {function.name: function for function in candidates}

    def judge(name: str, answer: dict[str, Any]) -> None:
        judged[name] = answer, _judged(plan, by_name[name], answer, app_dir=app_dir)

    answers = run_probes(plan, candidates, app_dir=app_dir, jobs=jobs, on_answer=judge, ahead=ahead)
    refused: list[tuple[str, str]] = []
    functions = []
    for function in plan.functions:
        if function.mode == "slim":
            answer = answers[function.name]
            seen, proven = judged.get(function.name, (None, function))
            if seen is not answer:  # not streamed, or replaced since
                proven = _judged(plan, function, answer, app_dir=app_dir)
            if proven.mode != "slim":
                refused.append((function.routes[0].key, proven.not_slim))
            function = proven
        functions.append(function)
    diagnostics = {*plan.diagnostics, *not_slim_diagnostics(refused)}
    return replace(
        plan,
        functions=tuple(functions),
        diagnostics=tuple(sorted(diagnostics, key=diagnostic_order)),
    )


def _judged(
    plan: BuildPlan, function: Function, answer: dict[str, Any], *, app_dir: Path
) -> Function:
    """The function proven slim (with what it imports), or made full with the reason."""
    reason = refusal(answer, plan.spec, function)
    if reason:
        return replace(function, mode="full", not_slim=reason, slim_include=(), slim_exclude=())
    shared = answer.get("shared_modules", ())
    imports = record_imports(answer["modules"], function, app_dir=app_dir, shared=shared)
    return replace(function, imports=imports)


# --- running the probe --------------------------------------------------------------


def run_probes(
    plan: BuildPlan,
    functions: list[Function],
    *,
    app_dir: Path,
    jobs: int = 0,
    share: bool = True,
    on_answer: Callable[[str, dict[str, Any]], None] | None = None,
    ahead: ProofAhead | None = None,
) -> dict[str, dict[str, Any]]:
    """Each function's answer from :mod:`fastsplit.probe` (``{"error": ...}`` when the
    handler could not be imported or the probe did not run). ``share=False`` proves
    every function from scratch, without the probe's shared imports (for comparison).
    ``on_answer(name, answer)`` sees answers as they arrive, while the probe runs; the
    answers returned are the last word (an answer can still be replaced after it was
    seen, when the child that wrote it is killed for taking too long)."""
    jobs = jobs or os.cpu_count() or 1
    with ExitStack() as stack:
        if ahead is None or ahead.used or ahead.app_dir != app_dir.resolve():
            ahead = stack.enter_context(proof_ahead(app_dir))
        ahead.used = True
        root, first = ahead.root, ahead.process
        forks = first is not None
        requests = []
        for function in functions:
            requests.append(
                {
                    "name": function.name,
                    # The probe imports the handler from its source, as if it were
                    # handler.py in this folder (which is never written).
                    "dir": str(root / "functions" / function.name),
                    "source": render_handler(plan, function),
                    "group": _endpoint_module(function),
                }
            )
        (root / "answers").mkdir()
        prelude_answer = root / "answers" / "prelude.json"
        base = {
            "app_dir": str(app_dir),
            "app_module": plan.spec.module,
            "runtime_dir": str(root / "runtime"),
            "fastsplit_root": str(Path(fastsplit.__file__).resolve().parent.parent),
            "jobs": jobs,
            "timeout": TIMEOUT,
            "states": monolith_states(app_dir),
            "prelude": str(prelude_answer),
            "share": share,
        }
        # One answers log for the probe that forks; without fork, one per process (appends
        # from several processes do not interleave on POSIX only).
        batches = [requests] if forks else [[request] for request in requests]
        logs = [root / "answers" / f"{batch[0]['name']}.log" for batch in batches]
        arrivals = Arrivals(logs, prelude_answer)
        with ThreadPoolExecutor(max_workers=1 if len(batches) == 1 else jobs) as pool:
            running = [
                pool.submit(run, {**base, "functions": batch, "answers": str(log)}, first)
                for batch, log in zip(batches, logs, strict=True)
            ]
            while on_answer is not None and wait(running, timeout=ARRIVALS).not_done:
                for arrived in arrivals.new():
                    on_answer(*arrived)
            problems = [future.result() for future in running]
        arrivals.finish()
        answers = {}
        for request, problem in zip(requests, spread(problems, batches), strict=True):
            answers[request["name"]] = arrivals.final(request["name"], problem)
    return answers


def monolith_states(app_dir: Path) -> dict[str, str]:
    """The :func:`~fastsplit.fingerprint.state_digest` of each application module of the
    monolith: the probe sends back only the states that differ."""
    found = {}
    for name, module in list(sys.modules.items()):
        filename = getattr(module, "__file__", None)
        if isinstance(filename, str) and first_party(filename, app_dir):
            found[name] = state_digest(module_state(module))
    return found


def _endpoint_module(function: Function) -> str:
    """The module of the function's first endpoint: the probe imports it once for all
    the functions that share it."""
    route = function.routes[0].slim
    return route.endpoint.module if isinstance(route, SlimRoute) else ""


# --- judging an answer --------------------------------------------------------------


def refusal(answer: dict[str, Any], spec: AppSpec, function: Function) -> str:
    """Why the rebuilt app cannot stand in for the monolith, or an empty string."""
    if "error" in answer:
        return f"the slim handler could not be proven: {answer['error']}"
    modules = {m["name"]: m for m in answer["modules"]}
    if spec.module in modules:
        chain = " → ".join(import_chain(spec.module, modules))
        return (
            f"importing what it needs loads {spec.module}, the module that assembles the "
            f"app ({chain}), so it would build every route; break that import"
        )
    changed = changed_module(answer.get("state", {}))
    if changed:
        return changed
    assert spec.slim_app is not None
    routes = [route.slim for route in function.routes]
    assert all(isinstance(route, SlimRoute) for route in routes)
    expected = expected_fingerprint(spec.slim_app, routes)  # type: ignore[arg-type]
    got = {"app": answer["app"], "routes": answer["routes"]}
    difference = first_difference(expected, got)
    if difference:
        return f"the rebuilt app differs from the monolith: {difference}"
    return ""


def changed_module(states: dict[str, dict[str, str]]) -> str:
    """How a module the handler imports differs from the same module in the monolith,
    where the module assembling the app ran (and may have changed it)."""
    for name, rebuilt in sorted(states.items()):
        module = sys.modules.get(name)
        if module is None:
            continue
        monolith = module_state(module)
        for key in sorted(set(monolith) | set(rebuilt)):
            if monolith.get(key) != rebuilt.get(key):
                ours = monolith.get(key, "unset")
                theirs = rebuilt.get(key, "unset")
                return (
                    f"{name}.{key} is {_clip(ours)} in the monolith but {_clip(theirs)} in a "
                    "one-route app: building the whole app changes it (set it where it is "
                    "defined, or in the lifespan)"
                )
    return ""


def _clip(text: str, limit: int = 80) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def first_difference(expected: Any, got: Any, path: str = "") -> str:
    """Where two JSON descriptions first differ, readably ("" when equal)."""
    if expected == got:
        return ""
    if _is_pairs(expected) and _is_pairs(got):
        expected, got = dict(expected), dict(got)
    if isinstance(expected, dict) and isinstance(got, dict):
        for key in [*expected, *(k for k in got if k not in expected)]:
            if key not in got:
                return f"{_join(path, key)} is missing"
            if key not in expected:
                return f"{_join(path, key)} is extra"
            found = first_difference(expected[key], got[key], _join(path, key))
            if found:
                return found
    if isinstance(expected, list) and isinstance(got, list) and len(expected) == len(got):
        for index, (a, b) in enumerate(zip(expected, got, strict=True)):
            found = first_difference(a, b, f"{path}[{index}]")
            if found:
                return found
    return f"{path or 'the app'}: monolith {_short(expected)}, rebuilt {_short(got)}"


def _is_pairs(value: Any) -> bool:
    return isinstance(value, list) and all(
        isinstance(item, list) and len(item) == 2 and isinstance(item[0], str) for item in value
    )


def _join(path: str, key: Any) -> str:
    return f"{path}.{key}" if path else str(key)


def _short(value: Any, limit: int = 160) -> str:
    text = json.dumps(value, sort_keys=True)
    return text if len(text) <= limit else text[: limit - 1] + "…"
