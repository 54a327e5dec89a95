"""How long after a redemption a merchant may still reverse it."""

from __future__ import annotations

from datetime import datetime, timedelta

from points_engine.redemption.errors import ReversalWindowClosed


def check_reversible(redeemed_at: datetime, now: datetime, window: timedelta) -> None:
    """``ReversalWindowClosed`` once ``window`` has passed since the redemption."""
    if now >= redeemed_at + window:
        closed = redeemed_at + window
        raise ReversalWindowClosed(
            f"redemptions may be reversed until {closed.isoformat()} (a {window} window)"
        )
