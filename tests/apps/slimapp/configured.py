"""slimapp's light routes plus a route whose setting this module changes as it runs:
a function rebuilt without this module would see the default."""

from fastapi import FastAPI

from slimapp import light, modes, settings

settings.MODE = "configured"

app = FastAPI(title="configured")
app.include_router(light.router, prefix="/light")
app.include_router(modes.router)
