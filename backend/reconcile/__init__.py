"""Reconciliation: ``tanhui audit verify`` and ``GET /v1/audit/verify?reconcile=true`` recompute
what the database claims and report every disagreement, naming the row (docs/audit.md).

One module per check (``chain``, ``runs``, ``ranges``, ``overlap``, ``ledger``, ``partners``,
``redemptions``, ``campaigns``),
each streaming its rows, and ``runner.reconcile`` to run them all in one snapshot. Framework-free:
no FastAPI, no CLI; the callers render the ``Reconciliation``.
"""

from backend.reconcile.findings import CheckResult, Finding, Progress
from backend.reconcile.runner import CHECKS, GRACE, Reconciliation, reconcile

__all__ = ["CHECKS", "GRACE", "CheckResult", "Finding", "Progress", "Reconciliation", "reconcile"]
