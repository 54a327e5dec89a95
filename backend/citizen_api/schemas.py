"""Wire models of the citizen API."""

from __future__ import annotations

from datetime import date, datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


class _Read(BaseModel):
    model_config = ConfigDict(from_attributes=True)


class PartnerBindingRead(_Read):
    partner_id: str
    bound_at: datetime
    consent: Literal["given", "withdrawn"]
    withdrawn_at: datetime | None = Field(description="when consent was withdrawn; null while given")


class CitizenRead(_Read):
    citizen_id: str
    created_at: datetime
    partners: list[PartnerBindingRead]


class ExpiryRead(_Read):
    on: date = Field(description="the Asia/Shanghai day at whose start the points expire")
    points: int


class BalancesRead(_Read):
    pending: int = Field(description="points booked at settlement, not yet certified")
    available: int = Field(description="certified points, spendable")
    held: int = Field(description="points reserved by a redemption in progress")
    expiring: int = Field(description="of the available points, those that expire within 30 days")
    next_expiry: ExpiryRead | None = Field(
        description="the first date points expire on; null: none within 30 days"
    )


class HistoryItemRead(_Read):
    partner_id: str
    event_id: str
    type: str
    occurred_at: datetime
    status: Literal["credited", "capped", "rejected"]
    reduction_g: int
    points: int
    reasons: list[str]
    methodology: str
    book: str
    certified_run_id: str | None


class HistoryPage(_Read):
    items: list[HistoryItemRead]
    next: str | None = Field(description="pass as `after` for the next page; null on the last page")


class MonthReductionRead(_Read):
    month: str = Field(examples=["2026-11"])
    reduction_g: int


class EquivalentsRead(_Read):
    petrol_car_km: int = Field(description="km a petrol car (~170 g/km) did not drive, rounded down")
    tree_days: int = Field(description="days of a mature tree's uptake (~20 kg/year), rounded down")


class FootprintRead(_Read):
    reduction_g: int
    actions: int
    by_type: dict[str, int]
    by_month: list[MonthReductionRead]
    equivalents: EquivalentsRead


class SerialRangeRead(_Read):
    serial: str
    first: int
    last: int
    status: Literal["active", "retired"]


class CreditRead(_Read):
    partner_id: str
    event_id: str
    type: str
    occurred_at: datetime
    reduction_g: int
    points: int
    methodology: str
    book: str
    run_id: str
    ranges: list[SerialRangeRead]


class CreditPage(_Read):
    items: list[CreditRead]
    next: str | None
