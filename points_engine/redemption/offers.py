"""An offer's terms and whether a citizen may reserve one unit of it now.

The database enforces stock and balance again under its locks; these checks decide which refusal
a citizen sees, in a fixed precedence: the offer itself (status, window), then the citizen (limit,
points), then stock, so that "out of stock" is never hiding "you could not afford it anyway".
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Literal, TypeAlias

from points_engine.redemption.errors import (
    InsufficientPoints,
    InvalidOffer,
    OfferOutOfWindow,
    OfferUnavailable,
    OutOfStock,
    OverLimit,
)
from points_engine.regions import BOOKS

OfferStatus: TypeAlias = Literal["active", "paused", "retired"]
OFFER_STATUSES: tuple[OfferStatus, ...] = ("active", "paused", "retired")
MAX_PRICE = 10_000_000  # points; a guard against typos, far above any reward on offer
MAX_STOCK = 10_000_000
MAX_LIMIT = 1_000


@dataclass(frozen=True, slots=True)
class OfferTerms:
    price_points: int
    stock_left: int
    per_citizen_limit: int
    valid_from: datetime
    valid_until: datetime
    status: OfferStatus


def check_terms(
    price_points: int,
    stock: int,
    per_citizen_limit: int,
    valid_from: datetime,
    valid_until: datetime,
    book: str,
) -> None:
    """``InvalidOffer`` unless these terms may be offered."""
    for name, value, top in (
        ("price_points", price_points, MAX_PRICE),
        ("per_citizen_limit", per_citizen_limit, MAX_LIMIT),
    ):
        if type(value) is not int or not 1 <= value <= top:
            raise InvalidOffer(f"{name} must be an integer from 1 to {top:,}, not {value!r}")
    if type(stock) is not int or not 0 <= stock <= MAX_STOCK:
        raise InvalidOffer(f"stock must be an integer from 0 to {MAX_STOCK:,}, not {stock!r}")
    if valid_from.tzinfo is None or valid_until.tzinfo is None:
        raise InvalidOffer("valid_from and valid_until need a time zone")
    if valid_until <= valid_from:
        raise InvalidOffer("valid_until must be after valid_from")
    if book not in BOOKS:
        raise InvalidOffer(f"book must be one of {', '.join(BOOKS)}, not {book!r}")


def check_reservable(terms: OfferTerms, now: datetime, taken_by_citizen: int, available: int) -> None:
    """Raise why one more unit may not be reserved by a citizen who holds or has redeemed
    ``taken_by_citizen`` units of it and has ``available`` points (pending points do not count)."""
    if terms.status != "active":
        raise OfferUnavailable(f"the offer is {terms.status}")
    if not terms.valid_from <= now < terms.valid_until:
        window = f"{terms.valid_from.isoformat()} until {terms.valid_until.isoformat()}"
        raise OfferOutOfWindow(f"the offer may be reserved from {window}")
    if taken_by_citizen >= terms.per_citizen_limit:
        raise OverLimit(
            f"at most {terms.per_citizen_limit} per citizen; you hold or have redeemed {taken_by_citizen}"
        )
    if available < terms.price_points:
        raise InsufficientPoints(
            f"the offer costs {terms.price_points} points; {available} are available to spend "
            "(pending points become available when certified)"
        )
    if terms.stock_left <= 0:
        raise OutOfStock("the offer is out of stock")
