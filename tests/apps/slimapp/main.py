"""Assemble slimapp: light routes, one heavy route (numpy), middleware with options,
an exception handler, a lifespan and a dependency override."""

from fastapi import FastAPI

from slimapp import heavy, light
from slimapp.hooks import (
    HeaderMiddleware,
    OutOfStock,
    lifespan,
    out_of_stock_handler,
    real_clock,
    test_clock,
)

app = FastAPI(title="slimapp", version="2.0.0", lifespan=lifespan)
app.add_middleware(HeaderMiddleware, name="X-Served-By", value="slimapp")
app.add_exception_handler(OutOfStock, out_of_stock_handler)
app.include_router(light.router, prefix="/light", tags=["light"])
app.include_router(heavy.router, prefix="/heavy", tags=["heavy"])
# A fixed clock for every route, as a test setup or a demo would do.
app.dependency_overrides[real_clock] = test_clock
