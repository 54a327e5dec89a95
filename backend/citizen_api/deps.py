"""Dependencies of the citizen routes."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends

from backend.auth.roles import bearer
from backend.auth.tokens import Principal
from backend.deps import PlatformDep
from backend.privacy.deletion import ensure_not_deleted


async def _live_citizen(
    principal: Annotated[Principal, Depends(bearer("citizen"))], platform: PlatformDep
) -> Principal:
    # Tokens live 15 minutes; a deletion must stop them at once, not when they expire.
    await ensure_not_deleted(platform.db, principal.sub)
    return principal


CitizenCaller = Annotated[Principal, Depends(_live_citizen)]  # .sub is a citizen_id not deleted (410)
# A valid citizen token only: for a use case that checks deletion in its own transaction.
CitizenToken = Annotated[Principal, Depends(bearer("citizen"))]

__all__ = ["CitizenCaller", "CitizenToken", "PlatformDep"]
