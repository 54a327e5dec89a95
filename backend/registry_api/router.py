"""Public registry routes: certification runs, their roots and serial ranges (docs/registry.md).

Read-only and without authentication: anyone may check what was issued, who holds it and what was
retired for whom."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from backend import registry
from backend.deps import PlatformDep
from backend.openapi import problem_responses
from backend.registry.schemas import AccountRead, PieceHistory, PiecePage, RunDetail, RunPage, Status
from points_engine.regions import Book

router = APIRouter(prefix="/v1/registry", tags=["registry"])

After = Annotated[str | None, Query(max_length=48, description="the `next_after` of the previous page")]
Limit = Annotated[int, Query(ge=1, le=1000)]


@router.get("/runs", responses=problem_responses("invalid-request", "invalid-period", signed=False))
async def list_runs(
    platform: PlatformDep,
    book: Book | None = None,
    period: Annotated[str | None, Query(description="YYYY-MM")] = None,
    after: After = None,
    limit: Limit = 100,
) -> RunPage:
    """Certification runs in run-id order (book, period, number), with their Merkle roots."""
    return await registry.list_runs(platform.db, book=book, period=period, after=after, limit=limit)


@router.get("/runs/{run_id}", responses=problem_responses("unknown-run", signed=False))
async def get_run(run_id: str, platform: PlatformDep) -> RunDetail:
    """A run: its root and tree size (what an inclusion proof is checked against, docs/proofs.md),
    the range it issued and its current pieces, active and retired."""
    return await registry.get_run(platform.db, run_id)


@router.get("/ranges", responses=problem_responses("invalid-request", signed=False))
async def list_ranges(
    platform: PlatformDep,
    book: Book | None = None,
    status: Annotated[Status | None, Query(description="default: active and retired")] = None,
    account: Annotated[str | None, Query(max_length=40, description="the holder")] = None,
    after: After = None,
    limit: Limit = 100,
) -> PiecePage:
    """Pieces of serial ranges in serial order: by default the current ones (active and retired);
    `status=split` lists the pieces that were split (history)."""
    return await registry.list_pieces(
        platform.db, book=book, status=status, account=account, after=after, limit=limit
    )


@router.get("/ranges/{serial}", responses=problem_responses("unknown-range", signed=False))
async def get_range(serial: str, platform: PlatformDep) -> PieceHistory:
    """A piece, the pieces it was split from (its parent first) and those it was split into."""
    return await registry.get_piece(platform.db, serial)


@router.get("/accounts")
async def list_accounts(platform: PlatformDep) -> list[AccountRead]:
    """Every registry account and the tonnes it holds per book, active and retired."""
    return await registry.list_accounts(platform.db)
