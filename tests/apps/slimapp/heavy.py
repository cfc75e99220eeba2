"""The heavy route: numpy, imported when this module is."""

from typing import Annotated

import numpy as np
from fastapi import APIRouter, Query

router = APIRouter()


@router.get("/stats")
def stats(values: Annotated[list[float], Query()]) -> dict[str, float]:
    data = np.array(values)
    return {"mean": float(data.mean()), "max": float(data.max())}
