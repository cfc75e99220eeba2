"""Runs inside a fresh, isolated interpreter: one Lambda function folder, as Lambda would.

    python -S -I -B runtime_child.py cold FUNCTION_DIR EVENT_FILE
    python -S -I -B runtime_child.py loop FUNCTION_DIR EVENT_FILE ITERATIONS BATCHES VARIANTS

``-S -I`` leave ``sys.path`` to the standard library; this script puts the function
folder (an unzipped artifact) in front of it and nothing else, like ``/var/task``. ``-B``
writes no bytecode: Lambda's code folder is read-only, so a function without ``.pyc``
files in its zip compiles its modules on every cold start, and so does every run here.

``cold``: import ``handler`` and call ``handler.handler(event, context)`` once; prints
the import and first-invocation times, the monotonic clock at the response (the parent
subtracts its own clock at spawn), the modules imported and the response.

``loop``: warm per-request time of several ways to serve the same event in this one
process, batches interleaved (each batch starting with the next variant, the variants
taking turns every ten requests within it); prints
microseconds per request per batch, wall and CPU (all threads: sync endpoints run in a
worker thread). Variants:
``handler`` (the folder's own handler), ``mangum`` (plain ``Mangum(app)``, whose
default lifespan "auto" runs the app's startup and shutdown around every call),
``mangum-off`` (``Mangum(app, lifespan="off")``) and ``asgi`` (the app called directly
with the scope Mangum makes of the event and the lifespan state: no event or response
translation at all). A variant whose first answer differs from ``handler``'s is
reported as failing and not timed. ``again``: a second, separate instance of the
strictest plain Mangum that answers like the handler (``mangum-off``, else ``mangum``),
timed like the others: the same adapter against itself (an A/A comparison) shows how
finely the batches can tell two variants apart.

Only the standard library is imported before the timed import (the Lambda runtime
client imports as much before calling a handler).
"""

import json
import os
import sys
import time
from typing import Any


class Context:
    """The attributes of a Lambda context object that handlers commonly read."""

    function_name = "fastsplit-bench"
    function_version = "$LATEST"
    memory_limit_in_mb = 512
    aws_request_id = "00000000-0000-0000-0000-000000000000"
    invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:fastsplit-bench"

    @staticmethod
    def get_remaining_time_in_millis() -> int:
        return 30_000


def cold(event: dict[str, Any]) -> dict[str, Any]:
    before = set(sys.modules)
    start = time.perf_counter()
    import handler  # type: ignore[import-not-found]  # the function's, from sys.path[0]

    imported = time.perf_counter()
    response = handler.handler(event, Context())
    answered = time.perf_counter()
    done = time.monotonic()
    new = set(sys.modules) - before
    return {
        "import": imported - start,
        "first": answered - imported,
        "done": done,
        "modules": len(new),
        "tops": sorted({name.split(".")[0] for name in new}),
        "response": response,
    }


def loop(event: dict[str, Any], iterations: int, batches: int, names: list[str]) -> dict[str, Any]:
    import handler

    variants = {name: _variant(name, handler) for name in names if name != "again"}
    expected = _answer(handler.handler(event, Context()))
    timed, failing = {}, {}
    for name, call in variants.items():
        try:
            answer = _answer(call(event))
        except Exception as error:  # a variant that cannot serve this app
            failing[name] = f"{type(error).__name__}: {error}"
            continue
        if answer != expected:
            failing[name] = f"answers {answer[0]} where the handler answers {expected[0]}"
            continue
        timed[name] = _warmed(call, event, iterations)
    twin = ""
    if "again" in names:
        twin = "mangum-off" if "mangum-off" in timed else "mangum"
        timed["again"] = _warmed(_variant(twin, handler), event, iterations)
    wall: dict[str, list[float]] = {name: [] for name in timed}
    cpu: dict[str, list[float]] = {name: [] for name in timed}
    names = list(timed)
    for batch in range(batches):
        # Each batch starts with the next variant: none is always first after a switch.
        order = names[batch % len(names) :] + names[: batch % len(names)]
        spent = dict.fromkeys(order, 0.0)
        spent_cpu = dict.fromkeys(order, 0.0)
        # The variants take turns every CHUNK requests, so that a batch of one and the
        # same batch of another ran through the same moments of the machine's load; in
        # reverse order every other turn, so that none always runs right after the same
        # one (and pays for the garbage it left).
        for turn, chunk in enumerate(_chunks(iterations)):
            for name in order if turn % 2 == 0 else order[::-1]:
                call = timed[name]
                start, start_cpu = time.perf_counter(), time.process_time()
                for _ in range(chunk):
                    call(event)
                spent_cpu[name] += time.process_time() - start_cpu
                spent[name] += time.perf_counter() - start
        for name in order:
            cpu[name].append(spent_cpu[name] / iterations * 1e6)
            wall[name].append(spent[name] / iterations * 1e6)
    return {"wall": wall, "cpu": cpu, "failing": failing, "again_of": twin}


CHUNK = 10  # requests a variant serves before the next one's turn


def _warmed(call: Any, event: dict[str, Any], iterations: int) -> Any:
    """``call`` after a few untimed requests (lazy first-call work, caches)."""
    for _ in range(min(50, iterations)):
        call(event)
    return call


def _chunks(iterations: int) -> list[int]:
    """``iterations`` as turns of :data:`CHUNK` requests (the last one shorter)."""
    full, rest = divmod(iterations, CHUNK)
    return [CHUNK] * full + ([rest] if rest else [])


def _variant(name: str, handler: Any) -> Any:
    context: Any = Context()
    if name == "handler":
        return lambda event: handler.handler(event, context)
    from mangum import Mangum

    if name in ("mangum", "mangum-off"):
        adapter = Mangum(handler.app, lifespan="off" if name == "mangum-off" else "auto")
        return lambda event: adapter(event, context)
    if name == "asgi":
        return _direct(handler.app, context)
    raise SystemExit(f"unknown variant {name!r}")


def _direct(app: Any, context: Any) -> Any:
    """The app called with a ready scope: the floor under any adapter."""
    import asyncio

    from mangum import Mangum
    from mangum.adapter import HANDLERS
    from mangum.protocols.lifespan import LifespanCycle

    cycle = LifespanCycle(app, "auto")
    cycle.__enter__()  # once, like a server (and like fastsplit's handler)
    state = cycle.lifespan_state
    config = Mangum(app, lifespan="off").config
    runner = asyncio.new_event_loop()

    made: list[tuple[dict[str, Any], Any]] = []

    def call(event: dict[str, Any]) -> dict[str, Any]:
        # The scope is made once per event object: translating events is the adapters'
        # work, not the app's.
        if not made or made[-1][0] is not event:
            gateway = next(h for h in HANDLERS if h.infer(event, context, config))
            made.append((event, gateway(event, context, config)))
        request = made[-1][1]
        scope = {**request.scope, "state": dict(state)}
        return runner.run_until_complete(_serve(app, scope, request.body))

    return call


async def _serve(app: Any, scope: dict[str, Any], body: bytes) -> dict[str, Any]:
    import asyncio

    finished = asyncio.Event()
    messages: list[dict[str, Any]] = []
    sent = False

    async def receive() -> dict[str, Any]:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        await finished.wait()
        return {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        messages.append(message)
        if message["type"] == "http.response.body" and not message.get("more_body"):
            finished.set()

    await app(scope, receive, send)
    start = messages[0]
    content = b"".join(m.get("body", b"") for m in messages[1:])
    return {"statusCode": start["status"], "body": content.decode(errors="replace")}


def _answer(response: dict[str, Any]) -> tuple[int, str]:
    """Status and body: what every variant must agree on (headers differ by design:
    the direct call has no response translation)."""
    body = response.get("body") or ""
    if response.get("isBase64Encoded"):
        import base64

        body = base64.b64decode(body).decode(errors="replace")
    return int(response["statusCode"]), body


def main() -> None:
    mode, folder, event_file = sys.argv[1:4]
    sys.path[:] = [folder, *(entry for entry in sys.path if entry)]
    os.chdir(folder)
    with open(event_file, encoding="utf-8") as source:
        event = json.load(source)
    real_stdout = sys.stdout
    sys.stdout = sys.stderr  # handlers may print; stdout carries the result
    if mode == "cold":
        result = cold(event)
    else:
        iterations, batches = int(sys.argv[4]), int(sys.argv[5])
        result = loop(event, iterations, batches, sys.argv[6].split(","))
    real_stdout.write(json.dumps(result) + "\n")
    real_stdout.flush()


if __name__ == "__main__":
    main()
