"""A plain Starlette app (no FastAPI): its routes are split too."""

from starlette.applications import Starlette
from starlette.responses import JSONResponse
from starlette.routing import Route


async def home(request):
    return JSONResponse({"ok": True})


async def user(request):
    return JSONResponse({"id": request.path_params["id"]})


app = Starlette(
    routes=[Route("/", home), Route("/users/{id:int}", user, methods=["GET", "DELETE"])]
)
