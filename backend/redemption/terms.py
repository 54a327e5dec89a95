"""Whether a citizen may reserve an offer, read from the offer's row: both reserve paths ask here."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from backend.errors import UnknownOffer
from points_engine.redemption import OfferTerms, OfferUnavailable, check_reservable


def check_offer_row(offer: Any, offer_id: str, now: datetime, taken: int, available: int) -> None:
    """Raise the first reason to refuse: no such offer (``offer`` is None or has no merchant),
    its merchant not active, then the engine's precedence (window, status, stock, limit, points).
    ``offer`` has the offers columns and ``merchant_status``."""
    if offer is None or offer.merchant_id is None:
        raise UnknownOffer(f"no offer {offer_id!r}")
    if offer.merchant_status != "active":
        raise OfferUnavailable(f"merchant {offer.merchant_id!r} is {offer.merchant_status}")
    terms = OfferTerms(
        price_points=offer.price_points,
        stock_left=offer.stock_left,
        per_citizen_limit=offer.per_citizen_limit,
        valid_from=offer.valid_from,
        valid_until=offer.valid_until,
        status=offer.status,
    )
    check_reservable(terms, now, taken, available)
