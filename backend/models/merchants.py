"""Merchants, their staff, their offers, and citizens' reservations of offers (redemptions).

``reservations`` grows with redemptions: keyed by reservation_id, with ``reserved_at`` to
partition by time later; the citizen's and the merchant's reads have their own indexes.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Index
from sqlmodel import Field, SQLModel

from backend.models.types import UtcDateTime


class Merchant(SQLModel, table=True):
    __tablename__ = "merchants"

    merchant_id: str = Field(primary_key=True, max_length=40)
    name: str = Field(max_length=200)
    book: str = Field(max_length=16)  # the book whose citizens' points it takes (its statements' book)
    status: str = Field(max_length=16)  # active | suspended
    created_at: datetime = Field(sa_type=UtcDateTime, nullable=False)  # type: ignore[call-overload]


class MerchantStaff(SQLModel, table=True):
    """A person redeeming codes for one merchant; their tokens are ``merchant`` tokens whose
    ``sub`` is the staff id, checked against this row on every request (disable = locked out)."""

    __tablename__ = "merchant_staff"

    staff_id: str = Field(primary_key=True, max_length=40)
    merchant_id: str = Field(foreign_key="merchants.merchant_id", index=True, max_length=40)
    name: str = Field(max_length=200)
    created_at: datetime = Field(sa_type=UtcDateTime, nullable=False)  # type: ignore[call-overload]
    disabled_at: datetime | None = Field(default=None, sa_type=UtcDateTime)  # type: ignore[call-overload]


class Offer(SQLModel, table=True):
    """What a merchant gives for points. ``stock_left`` units may still be reserved; a reserved
    unit is held until redeemed (gone) or voided (back in ``stock_left``)."""

    __tablename__ = "offers"

    offer_id: str = Field(primary_key=True, max_length=40)
    merchant_id: str = Field(foreign_key="merchants.merchant_id", index=True, max_length=40)
    title: str = Field(max_length=200)
    description: str = Field(default="", max_length=2000)
    price_points: int = Field(sa_type=BigInteger, nullable=False)  # type: ignore[call-overload]
    stock_total: int = Field(sa_type=BigInteger, nullable=False)  # type: ignore[call-overload]
    stock_left: int = Field(sa_type=BigInteger, nullable=False)  # type: ignore[call-overload]
    per_citizen_limit: int  # reservations held or redeemed by one citizen, at most
    valid_from: datetime = Field(sa_type=UtcDateTime, nullable=False)  # type: ignore[call-overload]
    valid_until: datetime = Field(sa_type=UtcDateTime, nullable=False)  # type: ignore[call-overload]
    book: str = Field(max_length=16)
    status: str = Field(max_length=16)  # active | paused | retired
    created_at: datetime = Field(sa_type=UtcDateTime, nullable=False)  # type: ignore[call-overload]


class Reservation(SQLModel, table=True):
    """One reservation of one unit of an offer: points held (``spend-reserve``), then posted to the
    merchant (``spend-post``), voided back (``spend-void``), or, once posted, reversed (``reverse``).

    ``code_hash`` is the keyed hash of the short code a person types; the code itself is never stored.
    """

    __tablename__ = "reservations"
    __table_args__ = (
        Index("ix_reservations_citizen_offer", "citizen_id", "offer_id", "status"),
        Index("ix_reservations_citizen_reserved", "citizen_id", "reserved_at"),
        Index("ix_reservations_merchant_redeemed", "merchant_id", "redeemed_at"),
        Index("ix_reservations_merchant_reversed", "merchant_id", "reversed_at"),
        Index("ix_reservations_status_expires", "status", "expires_at"),
    )

    reservation_id: str = Field(primary_key=True, max_length=40)
    offer_id: str = Field(foreign_key="offers.offer_id", max_length=40)
    merchant_id: str = Field(max_length=40)
    citizen_id: str = Field(max_length=40)
    points: int = Field(sa_type=BigInteger, nullable=False)  # type: ignore[call-overload]
    book: str = Field(max_length=16)
    status: str = Field(max_length=16)  # reserved | redeemed | cancelled | expired | reversed
    code_hash: str = Field(unique=True, max_length=64)
    reserve_tx: str = Field(max_length=35)
    reserved_at: datetime = Field(sa_type=UtcDateTime, nullable=False)  # type: ignore[call-overload]
    expires_at: datetime = Field(sa_type=UtcDateTime, nullable=False)  # type: ignore[call-overload]
    resolved_tx: str | None = Field(default=None, max_length=35)  # spend-post or spend-void
    redeemed_at: datetime | None = Field(default=None, sa_type=UtcDateTime)  # type: ignore[call-overload]
    redeemed_by: str | None = Field(default=None, max_length=40)  # staff_id
    voided_at: datetime | None = Field(default=None, sa_type=UtcDateTime)  # type: ignore[call-overload]
    reverse_tx: str | None = Field(default=None, max_length=35)
    reversed_at: datetime | None = Field(default=None, sa_type=UtcDateTime)  # type: ignore[call-overload]
    reversed_by: str | None = Field(default=None, max_length=40)
