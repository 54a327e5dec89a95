"""Dependencies of the merchant routes: a valid ``merchant`` token of staff who may still act."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends

from backend.auth.roles import bearer
from backend.auth.tokens import Principal
from backend.deps import PlatformDep
from backend.merchants.directory import Staff, authenticate


async def _staff(
    principal: Annotated[Principal, Depends(bearer("merchant"))], platform: PlatformDep
) -> Staff:
    return await authenticate(platform.db, principal.sub)


StaffCaller = Annotated[Staff, Depends(_staff)]
# A valid staff token only: for a use case that checks the staff member in its own transaction.
StaffToken = Annotated[Principal, Depends(bearer("merchant"))]

__all__ = ["PlatformDep", "StaffCaller", "StaffToken"]
