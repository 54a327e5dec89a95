"""Wire models of the registry, shared by the admin API and the public registry API (which may not
import each other). Quantities are integers (grams, tonnes); times are ISO 8601 in UTC."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from backend.registry.rules import ACCOUNT_ID, TEXT_MAX

Status = Literal["active", "retired", "split"]
# A tonne of a piece, numbered as in its serial; strict: ``true`` or ``"3"`` is not a tonne.
Tonne = Annotated[int, Field(ge=1, le=999_999_999, strict=True)]


class PieceRead(BaseModel):
    serial: str = Field(description="`TH-{BOOK}-{VINTAGE}-{RUN:06}-{FIRST:09}-{LAST:09}`")
    run_id: str
    book: str
    vintage: int
    first: int = Field(description="first tonne, numbered from 1 within the run")
    last: int = Field(description="last tonne, included")
    tonnes: int
    account_id: str = Field(description="the holder")
    status: Status = Field(description="`active` (may move), `retired` (final), `split` (history only)")
    parent: str | None = Field(description="the piece this one was split from; null for an issued range")
    beneficiary: str | None
    purpose: str | None
    retired_at: datetime | None
    created_at: datetime

    @classmethod
    def of(cls, row: Any) -> PieceRead:
        return cls(
            serial=row.serial,
            run_id=row.run_id,
            book=row.book,
            vintage=row.vintage,
            first=row.first,
            last=row.last,
            tonnes=row.last - row.first + 1,
            account_id=row.account_id,
            status=row.status,
            parent=row.parent,
            beneficiary=row.beneficiary,
            purpose=row.purpose,
            retired_at=row.retired_at,
            created_at=row.created_at,
        )


class PieceHistory(PieceRead):
    ancestors: list[PieceRead] = Field(description="the split pieces it came from, its parent first")
    children: list[PieceRead] = Field(description="the pieces it was split into (when `split`)")


class PiecePage(BaseModel):
    items: list[PieceRead]
    next_after: str | None = Field(description="pass as `after` for the next page; null on the last")


class RunRead(BaseModel):
    run_id: str
    book: str
    period: str = Field(description="YYYY-MM, a calendar month in Asia/Shanghai")
    number: int = Field(description="the run's number within its book ({RUN:06} of its serials)")
    vintage: int
    status: str = Field(description="`issued`, then `complete` once its points are available")
    tree_size: int = Field(description="how many actions (leaves) the run covers")
    root: str = Field(description="the RFC 6962 Merkle root of its actions, lowercase hex (docs/proofs.md)")
    reduction_g: int
    carry_in_g: int
    carry_out_g: int
    tonnes: int = Field(description="whole tonnes issued")
    serial: str | None = Field(description="the range it issued; null when it reached no whole tonne")
    issued_at: datetime
    completed_at: datetime | None

    @classmethod
    def of(cls, row: Any, serial: str | None) -> RunRead:
        return cls(**{f: getattr(row, f) for f in cls.model_fields if f != "serial"}, serial=serial)


class RunDetail(RunRead):
    active_t: int
    retired_t: int
    pieces: list[PieceRead] = Field(description="its current pieces (active and retired), in tonne order")


class RunPage(BaseModel):
    items: list[RunRead]
    next_after: str | None = Field(description="pass as `after` for the next page; null on the last")


class Holding(BaseModel):
    book: str
    active_t: int
    retired_t: int


class AccountRead(BaseModel):
    account_id: str
    kind: Literal["book", "pilot", "buyer"]
    name: str
    book: str | None = Field(description="the only book it may hold; null for a buyer (any book)")
    created_at: datetime
    holdings: list[Holding] = Field(description="tonnes it holds per book, active and retired")


class OperationRead(BaseModel):
    serial: str = Field(description="the piece the operation named")
    piece: PieceRead = Field(description="the tonnes moved or retired")
    pieces: list[PieceRead] = Field(description="every piece the operation left, in tonne order")


class BuyerCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    account_id: str = Field(pattern=f"^{ACCOUNT_ID.pattern}$")
    name: str = Field(min_length=1, max_length=TEXT_MAX)


class _PieceOperation(BaseModel):
    model_config = ConfigDict(extra="forbid")
    serial: str = Field(max_length=48, description="an active piece")
    first: Tonne | None = Field(default=None, description="first tonne to act on (default: the piece's)")
    last: Tonne | None = Field(default=None, description="last tonne to act on (default: the piece's)")


class TransferCreate(_PieceOperation):
    to_account: str = Field(max_length=40)


class RetirementCreate(_PieceOperation):
    beneficiary: str = Field(min_length=1, max_length=TEXT_MAX)
    purpose: str = Field(min_length=1, max_length=TEXT_MAX)
