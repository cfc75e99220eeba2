"""slimapp's light routes behind a middleware whose option is an object, not plain data."""

from fastapi import FastAPI

from slimapp import light
from slimapp.hooks import Tagger, TaggingMiddleware

app = FastAPI(title="objects")
app.add_middleware(TaggingMiddleware, tagger=Tagger("objects"))
app.include_router(light.router, prefix="/light")
