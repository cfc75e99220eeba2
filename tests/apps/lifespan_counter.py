"""Counts lifespan startups in a file, to prove startup runs once per cold start.

Set LIFESPAN_COUNTER_FILE to a fresh path per test; ``/count`` reports the startup
count this process saw, which must not grow from one request to the next.
"""

import os
import tempfile
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import FastAPI, Request

DEFAULT_COUNTER_FILE = os.path.join(tempfile.gettempdir(), "fastsplit_lifespan_counter")


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[dict[str, int]]:
    path = Path(os.environ.get("LIFESPAN_COUNTER_FILE", DEFAULT_COUNTER_FILE))
    count = int(path.read_text()) + 1 if path.exists() else 1
    path.write_text(str(count))
    yield {"started": count}


app = FastAPI(lifespan=lifespan)


@app.get("/count")
def count(request: Request) -> dict[str, int]:
    return {"started": request.state.started}
