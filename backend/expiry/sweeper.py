"""One expiry sweep: every citizen holding available points, in pages of ``PAGE`` (memory stays
flat), has what is past its validity expired and the points coming up within 30 days announced.

A page is read without locks; the citizens with points due are then expired in one transaction
that first locks their available balance rows (as spending does) and recomputes under the lock,
so a reservation made meanwhile is seen. Expiry transactions are keyed by the Shanghai day, and
notices by citizen and date: a second sweep of the same day changes nothing.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import partial
from typing import Any

from backend.context import Platform
from backend.db import Tx
from backend.expiry import movements as ledger
from backend.expiry import notices
from backend.ledger_store import post
from points_engine.expiry import Expiring, expire_txs, outlook, shanghai_date
from points_engine.ledger import Transaction

PAGE = 500
Progress = Callable[[int, int], None]


@dataclass
class SweepReport:
    """Citizens looked at, citizens whose points expired, points expired per book, notices queued."""

    day: str
    citizens: int = 0
    expired_citizens: int = 0
    expired: dict[str, int] = field(default_factory=dict)
    notices: int = 0

    def add(self, txs: list[Transaction], notices: int) -> None:
        self.expired_citizens += len({t.debit.account for t in txs})
        for t in txs:
            self.expired[t.credit.account.owner] = self.expired.get(t.credit.account.owner, 0) + t.amount
        self.notices += notices

    def as_dict(self) -> dict[str, Any]:
        return {
            "day": self.day,
            "citizens": self.citizens,
            "expired_citizens": self.expired_citizens,
            "expired": dict(sorted(self.expired.items())),
            "notices": self.notices,
        }


async def sweep(
    platform: Platform, now: datetime | None = None, *, progress: Progress | None = None
) -> SweepReport:
    """Expire what is due at ``now`` (default: the real time) and queue the notices of what comes up."""
    now = now or datetime.now(UTC)
    months = platform.settings.points_validity_months
    report = SweepReport(shanghai_date(now).isoformat())
    async with platform.db.read() as conn:
        total = await ledger.count_holders(conn)
    if progress:
        progress(0, total)
    after = ""
    while True:
        async with platform.db.read() as conn:
            accounts = await ledger.holders(conn, after, PAGE)
            found = await ledger.movements(conn, accounts)
        if not accounts:
            return report
        after = accounts[-1]
        views = {a: outlook(found[a], now, months) for a in accounts}
        due = [a for a in accounts if views[a].due]
        upcoming = {a: views[a].upcoming(now) for a in accounts}
        if due or any(upcoming.values()):
            txs, queued = await platform.db.run(
                partial(_expire, due=due, upcoming=upcoming, now=now, months=months)
            )
            report.add(txs, queued)
        report.citizens += len(accounts)
        if progress:
            progress(report.citizens, max(total, report.citizens))


async def _expire(
    tx: Tx, *, due: list[str], upcoming: dict[str, tuple[Expiring, ...]], now: datetime, months: int
) -> tuple[list[Transaction], int]:
    """Under the locks of the due citizens: their expiries, recomputed, and every page's notices."""
    await ledger.lock(tx.conn, due)
    txs: list[Transaction] = []
    upcoming = dict(upcoming)
    for account, history in (await ledger.movements(tx.conn, due)).items():
        view = outlook(history, now, months)
        txs += expire_txs(ledger.citizen_of(account), view.due, now)
        upcoming[account] = view.upcoming(now)
    await post(tx.conn, txs, now)
    by_citizen = {ledger.citizen_of(account): dates for account, dates in upcoming.items() if dates}
    return txs, await notices.queue(tx.conn, by_citizen, now)
