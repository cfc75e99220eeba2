"""A router that reads a setting of the module assembling the app: an import cycle.

Its router exists before the import back, so the cycle works whichever module is
imported first; but importing this module always builds the whole app.
"""

from fastapi import APIRouter

router = APIRouter()


@router.get("/prefix")
def prefix() -> dict[str, str]:
    return {"prefix": circular.PREFIX}


from slimapp import circular  # noqa: E402
