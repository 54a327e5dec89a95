"""``reconcile``: every check, in one consistent read of the database, and the report they make."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection

from backend.db import Database
from backend.reconcile import campaigns, chain, ledger, overlap, partners, ranges, redemptions, runs
from backend.reconcile.findings import CheckResult, Finding, Findings, Progress
from points_engine.audit import VerifyReport

CHECKS = ("chain", "runs", "ranges", "overlap", "ledger", "partners", "redemptions", "campaigns")
GRACE = timedelta(hours=1)
KEEP = 1000
_SNAPSHOT_ID = re.compile(r"[0-9A-F-]+")


@dataclass(frozen=True, slots=True)
class Reconciliation:
    """The chain's own report, each check's result, the first findings and how many in all."""

    chain: VerifyReport
    checks: dict[str, CheckResult]
    findings: tuple[Finding, ...]
    finding_count: int
    info: dict[str, Any] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return self.finding_count == 0

    def as_json(self) -> dict[str, Any]:
        """The chain's report (``rows``, ``head``, ``problem_count``, ``problems``) with ``ok``
        covering every check, and ``checks``, ``finding_count``, ``findings``, ``info``."""
        return {
            **self.chain.as_json(),
            "ok": self.ok,
            "checks": {name: result.as_json() for name, result in self.checks.items()},
            "finding_count": self.finding_count,
            "findings": [f.as_json() for f in self.findings],
            "info": self.info,
        }


async def reconcile(
    db: Database,
    *,
    anchors: Mapping[int, str] | None = None,
    strict: bool = False,
    grace: timedelta = GRACE,
    now: datetime | None = None,
    progress: Progress | None = None,
    keep: int = KEEP,
) -> Reconciliation:
    """Run every check; ``ok`` iff nothing disagrees. Memory is flat: rows are streamed, and only
    the first ``keep`` findings are kept (all are counted)."""
    findings = Findings(keep, progress)
    sinks = {name: findings.sink(name) for name in CHECKS}
    report = await chain.check(db, sinks["chain"], anchors)
    async with _snapshot(db) as (conn, lookup):
        coverage = await runs.check(conn, sinks["runs"], sinks["overlap"])
        await ranges.check(conn, sinks["ranges"])
        await overlap.check(conn, sinks["overlap"], coverage)
        info = await ledger.check(conn, lookup, sinks["ledger"])
        before = (now or datetime.now(UTC)) - grace
        info |= await partners.check(conn, sinks["partners"], before=before, strict=strict)
        info |= await redemptions.check(conn, lookup, sinks["redemptions"])
        info |= await campaigns.check(conn, sinks["campaigns"])
    for name in CHECKS:
        sinks[name].progress(sinks[name].checked, sinks[name].checked)
    return Reconciliation(report, findings.results(), tuple(findings.kept), findings.total, info)


@asynccontextmanager
async def _snapshot(db: Database) -> AsyncIterator[tuple[AsyncConnection, AsyncConnection]]:
    """Two read-only connections on one snapshot (PostgreSQL: REPEATABLE READ, the second joins
    the first's exported snapshot), so every check sees the same data while settlement goes on:
    one streams, the other looks rows up meanwhile (never a query on a connection whose
    server-side cursor is open). SQLite: the embedded single process, no snapshot needed."""
    async with db.read() as conn, db.read() as lookup:
        pg = conn.dialect.name == "postgresql"
        if pg:
            for c in (conn, lookup):
                await c.execution_options(isolation_level="REPEATABLE READ", postgresql_readonly=True)
        async with conn.begin(), lookup.begin():
            if pg:
                snapshot = (await conn.exec_driver_sql("SELECT pg_export_snapshot()")).scalar_one()
                if not _SNAPSHOT_ID.fullmatch(snapshot):
                    raise RuntimeError(f"unexpected snapshot id {snapshot!r}")
                await lookup.exec_driver_sql(f"SET TRANSACTION SNAPSHOT '{snapshot}'")
            yield conn, lookup
