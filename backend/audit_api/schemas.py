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


class CheckRead(BaseModel):
    ok: bool
    checked: int = Field(
        description="rows the check examined (entries, runs, ranges, leaves, transactions, partners)"
    )
    findings: int = Field(description="disagreements it found")


class FindingRead(BaseModel):
    check: str = Field(description="`chain`, `runs`, `ranges`, `overlap`, `ledger` or `partners`")
    subject: str = Field(description="the row it is about, e.g. `tx tx_…`, `run run_… chunk 3 (p/e)`")
    code: str = Field(description="stable, listed in docs/audit.md, e.g. `chunk-root`, `balance`")
    detail: str


class VerifyReportRead(BaseModel):
    ok: bool = Field(
        description="true iff the recomputed chain agrees with every stored entry (and, with "
        "`reconcile=true`, every check agrees)"
    )
    rows: int
    head: ChainHead
    problem_count: int
    problems: list[ChainProblemRead] = Field(description="the first 100 problems, in seq order")
    checks: dict[str, CheckRead] | None = Field(
        default=None,
        description="with `reconcile=true`: per check, whether it agrees and how much it examined",
    )
    finding_count: int | None = Field(default=None, description="with `reconcile=true`: all findings")
    findings: list[FindingRead] | None = Field(
        default=None, description="with `reconcile=true`: the first 1,000 findings, chain problems included"
    )
    info: dict[str, Any] | None = Field(
        default=None,
        description="with `reconcile=true`: per-partner totals, unsettled actions, runs not yet complete",
    )
