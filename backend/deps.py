"""Dependencies shared by every audience package."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from backend.context import Platform


async def get_platform(request: Request) -> Platform:
    # async: FastAPI runs a plain `def` dependency in a worker thread, per request (~0.3 ms)
    platform: Platform = request.app.state.platform
    return platform


PlatformDep = Annotated[Platform, Depends(get_platform)]
