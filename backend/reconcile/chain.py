"""Check ``chain``: the audit log's hash chain, recomputed by ``backend.audit.verify``."""

from __future__ import annotations

from collections.abc import Mapping

from backend import audit
from backend.db import Database
from backend.reconcile.findings import Sink
from points_engine.audit import VerifyReport


async def check(db: Database, sink: Sink, anchors: Mapping[int, str] | None = None) -> VerifyReport:
    """Verify the chain; each problem becomes a finding about ``audit_log seq N`` with its code."""
    sink.progress(0)
    report = await audit.verify(db, anchors=anchors)
    sink.examined(report.rows)
    for problem in report.problems:
        sink.report(f"audit_log seq {problem.seq}", problem.code, problem.detail)
    sink.more(report.problem_count - len(report.problems))  # the chain counts, but lists the first 100
    sink.progress(report.rows, report.rows)
    return report
