"""Admin routes of the credit registry (bearer token, role ``admin``): buyer accounts, transfers
and retirements (docs/registry.md). The rules are in ``backend.registry``."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends

from backend import registry
from backend.auth.roles import bearer
from backend.auth.tokens import Principal
from backend.deps import PlatformDep
from backend.openapi import problem_responses
from backend.registry.schemas import (
    AccountRead,
    BuyerCreate,
    OperationRead,
    RetirementCreate,
    TransferCreate,
)

router = APIRouter(prefix="/v1/admin", tags=["admin"])
Admin = Annotated[Principal, Depends(bearer("admin"))]
AUTH = ("invalid-token", "forbidden", "invalid-request", "malformed-json")
PIECE = ("unknown-range", "range-not-active", "tonnes-outside-range")


@router.post(
    "/registry/accounts", status_code=201, responses=problem_responses(*AUTH, "account-exists", signed=False)
)
async def create_account(body: BuyerCreate, admin: Admin, platform: PlatformDep) -> AccountRead:
    """Open a buyer account: it may hold credits of any book."""
    return await registry.create_buyer(platform.db, body.account_id, body.name, admin.sub)


@router.get("/registry/accounts", responses=problem_responses("invalid-token", "forbidden", signed=False))
async def list_accounts(_: Admin, platform: PlatformDep) -> list[AccountRead]:
    """Every registry account and the tonnes it holds per book, active and retired."""
    return await registry.list_accounts(platform.db)


@router.post(
    "/registry/transfers",
    status_code=201,
    responses=problem_responses(*AUTH, *PIECE, "unknown-account", "cross-book", signed=False),
)
async def transfer(body: TransferCreate, admin: Admin, platform: PlatformDep) -> OperationRead:
    """Move tonnes `first`..`last` (default: the whole piece) of an active piece to another account.

    Part of a piece splits it (the piece becomes `split`; new pieces hold the part moved and what
    is left). A book's or the pilot's account holds its own book only (`cross-book`)."""
    return await registry.transfer(
        platform.db, body.serial, body.to_account, admin.sub, body.first, body.last
    )


@router.post(
    "/registry/retirements", status_code=201, responses=problem_responses(*AUTH, *PIECE, signed=False)
)
async def retire(body: RetirementCreate, admin: Admin, platform: PlatformDep) -> OperationRead:
    """Retire tonnes `first`..`last` (default: the whole piece) of an active piece for a beneficiary
    and a purpose. Final: a retired piece never moves again."""
    return await registry.retire(
        platform.db, body.serial, body.beneficiary, body.purpose, admin.sub, body.first, body.last
    )
