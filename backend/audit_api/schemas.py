"""Wire models of the audit API."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field

from backend.audit import ChainedEvent
from points_engine.audit import utc_micros


class AuditEntryRead(BaseModel):
    seq: int
    at: str = Field(description="UTC, exactly as hashed: `YYYY-MM-DDTHH:MM:SS.ffffffZ`")
    actor: str = Field(description="the admin token's `sub`, `cli:<login>`, or `system`")
    action: str = Field(description="a dotted code, e.g. `partner.key-rotated`")
    subject: str = Field(description="what the event is about, e.g. `partner:transit_st`")
    details: dict[str, Any]
    prev_hash: str = Field(description="the previous entry's hash (64 zeros before the first)")
    hash: str = Field(description="SHA-256(prev_hash bytes ‖ canonical JSON of the six fields above)")

    @classmethod
    def of(cls, row: ChainedEvent) -> AuditEntryRead:
        e = row.event
        return cls(
            seq=e.seq,
            at=utc_micros(e.at),
            actor=e.actor,
            action=e.action,
            subject=e.subject,
            details=e.details,
            prev_hash=row.prev_hash,
            hash=row.hash,
        )


class AuditPage(BaseModel):
    items: list[AuditEntryRead]
    next_after_seq: int | None = Field(
        description="pass as `after_seq` for the next page; null when this page was the last"
    )


class ChainHead(BaseModel):
    seq: int = Field(description="the last entry verified (0: an empty log)")
    hash: str = Field(description="its hash: keep it elsewhere and compare later")


class ChainProblemRead(BaseModel):
    seq: int = Field(description="the entry the problem is about")
    code: str = Field(
        description="`altered`, `broken-link`, `missing`, `out-of-order`, `anchor-mismatch`, `anchor-missing`"
    )
    detail: str


class VerifyReportRead(BaseModel):
    ok: bool = Field(description="true iff the recomputed chain agrees with every stored entry")
    rows: int
    head: ChainHead
    problem_count: int
    problems: list[ChainProblemRead] = Field(description="the first 100 problems, in seq order")
