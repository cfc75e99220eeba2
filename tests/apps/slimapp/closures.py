"""slimapp's light routes plus an endpoint that is a closure (``closures:app``)."""

from fastapi import FastAPI

from slimapp import light
from slimapp.greeters import make_greeter

app = FastAPI(title="closures")
app.include_router(light.router, prefix="/light")
app.add_api_route("/hello/{name}", make_greeter("hello"), methods=["GET"])
