"""Dependencies of the partner routes."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from backend.auth.signed import SignedRequest, authenticate
from backend.deps import PlatformDep, get_platform


async def signed_partner(request: Request) -> SignedRequest:
    return await authenticate(request, await get_platform(request))


SignedPartner = Annotated[SignedRequest, Depends(signed_partner)]
__all__ = ["PlatformDep", "SignedPartner"]
