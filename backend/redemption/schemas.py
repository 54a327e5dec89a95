"""What the reservation and redemption use cases return (also the API's bodies)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

ReservationStatus = Literal["reserved", "redeemed", "cancelled", "expired", "reversed"]


class ReservationCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    offer_id: str = Field(min_length=1, max_length=40)


class ReservationRead(BaseModel):
    reservation_id: str
    offer_id: str
    merchant_id: str
    title: str
    points: int
    book: str
    status: ReservationStatus
    reserved_at: datetime
    expires_at: datetime
    redeemed_at: datetime | None
    voided_at: datetime | None
    reversed_at: datetime | None


class CodeRead(BaseModel):
    """What the citizen shows: while the reservation is live, its code, short code and QR images."""

    token: str = Field(description="what the QR carries; a scanner sends it as `code`")
    short_code: str = Field(description="for typing when a scan fails, `XXXXX-XXXXX`")
    qr_png: str = Field(description="path of the QR as PNG (with the citizen's token)")
    qr_svg: str = Field(description="path of the QR as SVG")
    expires_at: datetime


class ReservationWithCode(ReservationRead):
    code: CodeRead | None = Field(description="null once the reservation is no longer live")


class RedeemRequest(BaseModel):
    """Exactly one of ``code`` (scanned from the QR) or ``short_code`` (typed)."""

    model_config = ConfigDict(extra="forbid")
    code: str | None = Field(default=None, max_length=200)
    short_code: str | None = Field(default=None, max_length=32)

    @model_validator(mode="after")
    def _one(self) -> RedeemRequest:
        if (self.code is None) == (self.short_code is None):
            raise ValueError("send exactly one of code and short_code")
        return self


class RedemptionRead(BaseModel):
    reservation_id: str
    offer_id: str
    title: str
    points: int
    status: ReservationStatus
    redeemed_at: datetime | None
    redeemed_by: str | None
    reversed_at: datetime | None
    reversed_by: str | None
    reversible_until: datetime | None = Field(description="null once reversed or not redeemed")


class StatementLineRead(BaseModel):
    at: datetime
    kind: Literal["redemption", "reversal"]
    reservation_id: str
    offer_id: str
    staff_id: str
    points: int = Field(description="signed: what the line adds to the merchant's balance")
    tx_id: str


class StatementRead(BaseModel):
    merchant_id: str
    day: date = Field(description="an Asia/Shanghai day")
    opening: int
    redeemed: int
    reversed: int
    net: int
    closing: int
    reconciled: bool = Field(description="lines, journal and balance agree to the point")
    ledger_net: int
    ledger_closing: int
    findings: list[str]
    lines: list[StatementLineRead]


class StatementDay(BaseModel):
    day: date
    redemptions: int
    reversals: int
    redeemed: int
    reversed: int
    net: int
    closing: int
    reconciled: bool
