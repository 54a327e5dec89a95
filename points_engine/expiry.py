"""Expiry of available points, oldest first (domain.md "Points"; docs/expiry.md).

Points arrive in a citizen's available account as lots (when, how many, which book). Spending
takes from the oldest lots; a return (a cancelled reservation, a refunded spend) gives back the
most recently taken points first, so that what is consumed is always the oldest points. A lot's
unconsumed points expire at the start of the Shanghai day after ``validity_months`` calendar
months have passed since it arrived. Plain data in, plain data out; the caller passes ``now``.
"""

from __future__ import annotations

import calendar
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from functools import lru_cache
from itertools import groupby
from typing import Literal, TypeAlias

from points_engine.certification.periods import SHANGHAI
from points_engine.errors import InvariantViolation
from points_engine.ledger import Account, Transaction, expire_tx
from points_engine.regions import BOOKS, Book

__all__ = [
    "BONUS_BOOK",
    "DEFAULT_VALIDITY_MONTHS",
    "NOTICE_DAYS",
    "Expiring",
    "Movement",
    "Outlook",
    "expire_txs",
    "expires_at",
    "movement_of",
    "outlook",
    "shanghai_date",
]

DEFAULT_VALIDITY_MONTHS = 24
NOTICE_DAYS = 30
# Campaign bonuses are backed by no book's reductions; they are the city scheme's points, so they
# expire into the city's account (Nan'ao's book holds Nan'ao's reductions only).
BONUS_BOOK: Book = "shantou"

MovementKind: TypeAlias = Literal["arrival", "spend", "return", "expiry"]


@dataclass(frozen=True, slots=True)
class Movement:
    """Points into (arrival, return) or out of (spend, expiry) a citizen's available account;
    ``book`` for arrivals and expiries."""

    kind: MovementKind
    at: datetime
    points: int
    book: Book | None = None

    def __post_init__(self) -> None:
        if type(self.points) is not int or self.points <= 0:
            raise InvariantViolation(f"{self.kind} of {self.points!r} points: not a positive int")
        if self.at.tzinfo is None:
            raise InvariantViolation(f"{self.kind} at {self.at}: the time must be timezone-aware")
        if (self.book is not None) != (self.kind in ("arrival", "expiry")):
            raise InvariantViolation(f"{self.kind} with book {self.book!r}: arrivals, expiries only")


@dataclass(frozen=True, slots=True)
class Expiring:
    """``points`` that expire at the start of the Shanghai day ``on``."""

    on: date
    points: int


@dataclass(frozen=True, slots=True)
class Outlook:
    """At ``now``: what is past its validity and still available, per book (to expire now), and
    what expires by ``now`` + the horizon, by date, oldest first (the overdue included)."""

    due: Mapping[Book, int]
    expiring: tuple[Expiring, ...]

    def upcoming(self, now: datetime) -> tuple[Expiring, ...]:
        """The dates after ``now``'s Shanghai day: what a notice announces."""
        today = shanghai_date(now)
        return tuple(e for e in self.expiring if e.on > today)


def shanghai_date(at: datetime) -> date:
    return at.astimezone(SHANGHAI).date()


def expires_at(arrived: datetime, validity_months: int) -> datetime:
    """When a lot that arrived at ``arrived`` expires (UTC): the start of the Shanghai day after its
    arrival date plus ``validity_months`` (a day past the month's end is its last day: 31 → 30)."""
    return _expiry_of_day(shanghai_date(arrived), validity_months)


@lru_cache(maxsize=4096)  # a sweep meets the same few hundred arrival days again and again
def _expiry_of_day(day: date, validity_months: int) -> datetime:
    years, month = divmod(day.month - 1 + validity_months, 12)
    year = day.year + years
    last = date(year, month + 1, min(day.day, calendar.monthrange(year, month + 1)[1]))
    after = last + timedelta(days=1)
    return datetime(after.year, after.month, after.day, tzinfo=SHANGHAI).astimezone(UTC)


def outlook(
    movements: Iterable[Movement], now: datetime, validity_months: int, days: int = NOTICE_DAYS
) -> Outlook:
    """Replay the citizen's movements (any order; sorted by time here) and look at ``now``.
    ``validity_months`` ≥ 1. InvariantViolation for a history no ledger could have booked."""
    horizon = now + timedelta(days=days)
    due: dict[Book, int] = {}
    by_date: dict[date, int] = {}
    for lot in _replay(movements, validity_months):
        if lot.remaining and lot.expires <= horizon:
            on = shanghai_date(lot.expires)
            by_date[on] = by_date.get(on, 0) + lot.remaining
            if lot.expires <= now:
                due[lot.book] = due.get(lot.book, 0) + lot.remaining
    return Outlook(due, tuple(Expiring(on, points) for on, points in sorted(by_date.items())))


def expire_txs(citizen_id: str, due: Mapping[Book, int], now: datetime) -> list[Transaction]:
    """The expiry transactions of ``due``, one per book, keyed by book and the Shanghai date of
    ``now``: a second sweep on the same day books the same transactions (a replay)."""
    day = shanghai_date(now).isoformat()
    return [expire_tx(book, citizen_id, f"{day}/{book}", due[book]) for book in BOOKS if due.get(book)]


def movement_of(
    kind: str, cause: str, credit: str, points: int, at: datetime, origin_debit: str | None = None
) -> Movement:
    """The movement of a ledger transaction that credits or debits a citizen's available account.
    ``origin_debit``: for a ``certify``, the debit account of the settle (or bonus) it certifies."""
    if kind == "certify-run":
        return Movement("arrival", at, points, _run_book(cause))
    if kind == "certify":
        if origin_debit is None:
            raise InvariantViolation(f"certify {cause}: the book comes from its origin, not given")
        return Movement("arrival", at, points, Account.parse(origin_debit).book or BONUS_BOOK)
    if kind == "bonus":
        return Movement("arrival", at, points, BONUS_BOOK)
    if kind == "spend-reserve":
        return Movement("spend", at, points)
    if kind in ("spend-void", "reverse"):
        return Movement("return", at, points)
    if kind == "expire":
        return Movement("expiry", at, points, Account.parse(credit).book)
    raise InvariantViolation(f"a {kind} transaction does not move available points")


def _run_book(cause: str) -> Book:
    """The book of ``run_{book}_{period}_{n}/{citizen}`` (book names hold no ``_``)."""
    prefix, _, rest = cause.partition("_")
    named = rest.partition("_")[0]
    for book in BOOKS:
        if prefix == "run" and named == book and "/" in rest:
            return book
    raise InvariantViolation(f"certify-run cause {cause!r} names no book's run")


@dataclass(slots=True)
class _Lot:
    expires: datetime
    book: Book
    points: int
    used: int = 0
    expired: int = 0

    @property
    def remaining(self) -> int:
        return self.points - self.used - self.expired


def _replay(movements: Iterable[Movement], validity_months: int) -> list[_Lot]:
    """Movements booked at the same instant (one batch) have no order among them, so they count
    together: the arrivals, then the net of the spends and returns, then the expiries."""
    lots: list[_Lot] = []
    for at, batch in groupby(sorted(movements, key=lambda m: m.at), key=lambda m: m.at):
        same = list(batch)
        for m in same:
            if m.kind == "arrival" and m.book is not None:
                lots.append(_Lot(expires_at(at, validity_months), m.book, m.points))
        net = sum(m.points if m.kind == "spend" else -m.points for m in same if m.kind in ("spend", "return"))
        if net > 0:
            _take(lots, Movement("spend", at, net))
        elif net < 0:
            lots.extend(_give_back(lots, Movement("return", at, -net), validity_months))
        for m in same:
            if m.kind == "expiry":
                _take(lots, m)
    return lots


def _take(lots: list[_Lot], m: Movement) -> None:
    """A spend takes from the oldest lots; an expiry from the oldest of its book (its due lots)."""
    left = m.points
    for lot in lots:
        if left == 0:
            break
        if m.kind == "expiry" and lot.book != m.book:
            continue
        taken = min(lot.remaining, left)
        if m.kind == "spend":
            lot.used += taken
        else:
            lot.expired += taken
        left -= taken
    if left:
        raise InvariantViolation(f"{m.kind} of {m.points} at {m.at}: {left} more than the lots hold")


def _give_back(lots: list[_Lot], m: Movement, validity_months: int) -> list[_Lot]:
    """Undo the newest consumption first. Points taken from a lot whose validity has ended by the
    return never go back to it (they would expire at once, or, had the lot been swept, revive it):
    they arrive as a fresh lot at the return, of the same book."""
    left, fresh = m.points, []
    for lot in reversed(lots):
        if left == 0:
            break
        back = min(lot.used, left)
        if back == 0:
            continue
        lot.used -= back
        left -= back
        if lot.expires <= m.at:
            lot.points -= back
            fresh.append(_Lot(expires_at(m.at, validity_months), lot.book, back))
    if left:
        raise InvariantViolation(f"return of {m.points} at {m.at}: {left} more than was spent")
    return fresh[::-1]
