"""What the merchant, offer and redemption use cases take and return (also the API's bodies)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from points_engine.regions import Book

ID = r"^[a-z0-9][a-z0-9_-]{1,39}$"


class MerchantCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    merchant_id: str = Field(pattern=ID, description="chosen by the administrator, e.g. `m_chaoshan_tea`")
    name: str = Field(min_length=1, max_length=200)
    book: Book = "shantou"


class MerchantRead(BaseModel):
    merchant_id: str
    name: str
    book: str
    status: Literal["active", "suspended"]
    created_at: datetime
    balance: int = Field(description="points redeemed at the merchant, less reversals (its ledger account)")


class MerchantUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    status: Literal["active", "suspended"]


class StaffCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(min_length=1, max_length=200)


class StaffRead(BaseModel):
    staff_id: str
    merchant_id: str
    name: str
    created_at: datetime
    disabled_at: datetime | None


class StaffToken(BaseModel):
    staff: StaffRead
    access_token: str
    token_type: Literal["Bearer"] = "Bearer"
    expires_in: int


class OfferCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    merchant_id: str = Field(pattern=ID)
    title: str = Field(min_length=1, max_length=200)
    description: str = Field(default="", max_length=2000)
    price_points: int = Field(description="points one unit costs")
    stock: int = Field(description="units on offer")
    per_citizen_limit: int = Field(default=1, description="units one citizen may hold or have redeemed")
    valid_from: datetime
    valid_until: datetime
    book: Book | None = Field(default=None, description="default: the merchant's book")


class OfferUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    status: Literal["active", "paused", "retired"] | None = None
    add_stock: int | None = Field(default=None, ge=1, description="units added to the stock")
    valid_until: datetime | None = None
    title: str | None = Field(default=None, min_length=1, max_length=200)
    description: str | None = Field(default=None, max_length=2000)


class OfferRead(BaseModel):
    offer_id: str
    merchant_id: str
    title: str
    description: str
    price_points: int
    stock_total: int
    stock_left: int = Field(description="units that may still be reserved")
    per_citizen_limit: int
    valid_from: datetime
    valid_until: datetime
    book: str
    status: Literal["active", "paused", "retired"]
    created_at: datetime


class DayCount(BaseModel):
    day: date
    reserved: int
    redeemed: int
    reversed: int
    points: int = Field(description="points redeemed that day, less reversals")


class OfferBurnDown(OfferRead):
    held: int = Field(description="units reserved and not yet redeemed or voided")
    redeemed: int = Field(description="units redeemed and not reversed")
    reversed: int
    days: list[DayCount] = Field(description="the last 14 Asia/Shanghai days, oldest first")
    days_of_stock: float | None = Field(
        description="stock_left at the last 7 days' redemption rate; null when nothing was redeemed"
    )
    low_stock: bool = Field(description="under 10% of the stock left, or under 3 days of it")
