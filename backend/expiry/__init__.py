"""Expiry of available points (docs/expiry.md): the sweep, its schedule and the notices ahead of it.

The rule (which points, when) is ``points_engine.expiry``; this package reads the ledger for it,
books the expiries and queues the ``points.expiring`` webhooks.
"""

from backend.expiry.schedule import run_expiry, sweep_daily
from backend.expiry.sweeper import SweepReport, sweep

__all__ = ["SweepReport", "run_expiry", "sweep", "sweep_daily"]
