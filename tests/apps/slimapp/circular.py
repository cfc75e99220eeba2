"""slimapp's light routes plus a router whose module imports this one back."""

from fastapi import FastAPI

from slimapp.hooks import OutOfStock, out_of_stock_handler

PREFIX = "circular"

app = FastAPI(title="circular")
app.add_exception_handler(OutOfStock, out_of_stock_handler)

from slimapp import backref, light  # noqa: E402  (backref needs PREFIX from here)

app.include_router(light.router, prefix="/light")
app.include_router(backref.router)
