"""A route reading a setting at request time."""

from fastapi import APIRouter

from slimapp import settings

router = APIRouter()


@router.get("/mode")
def mode() -> dict[str, str]:
    return {"mode": settings.MODE}
