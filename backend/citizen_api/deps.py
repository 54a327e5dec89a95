"""Dependencies of the citizen routes."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends

from backend.auth.roles import bearer
from backend.auth.tokens import Principal
from backend.deps import PlatformDep

CitizenCaller = Annotated[Principal, Depends(bearer("citizen"))]  # .sub is the citizen_id

__all__ = ["CitizenCaller", "PlatformDep"]
