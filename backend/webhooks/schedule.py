"""When a failed webhook delivery is tried again, and when it is given up: pure, no I/O.

The contract promises retries "with exponential backoff for at least 24 h until a 2xx": the delay
starts at 5 s and doubles up to a 1 h ceiling, and the first failure once a delivery is 24 h old
gives it up. Jitter only shortens a delay (by up to a fifth), so that partners coming back after an
outage are not hit by every delivery in the same second, and the ceiling holds.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from datetime import datetime, timedelta

FIRST_DELAY = timedelta(seconds=5)
CEILING = timedelta(hours=1)
JITTER = 0.2
RETRY_WINDOW = timedelta(hours=24)


def backoff(attempts: int, rng: Callable[[], float] = random.random) -> timedelta:
    """The wait after the ``attempts``-th failed attempt (1 → ~5 s, 2 → ~10 s, … at most 1 h)."""
    if attempts < 1:
        raise ValueError("attempts counts failed attempts and starts at 1")
    # 2**20 × 5 s is far past the ceiling already; the cap keeps the arithmetic small.
    full = min(CEILING, FIRST_DELAY * (1 << min(attempts - 1, 20)))
    return full * (1 - JITTER * rng())


def next_attempt(
    created_at: datetime, failed_at: datetime, attempts: int, rng: Callable[[], float] = random.random
) -> datetime | None:
    """When to try again after a failure at ``failed_at``, or None: retried long enough, give up."""
    if failed_at - created_at >= RETRY_WINDOW:
        return None
    return failed_at + backoff(attempts, rng)
