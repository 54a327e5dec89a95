"""Wire models of the partner API. Small bodies are validated with these; the action batch is
validated item by item by the engine (one bad action rejects only itself), and these
models only document it in OpenAPI."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

Mobile = Field(pattern=r"^\+[1-9][0-9]{6,14}$", description="E.164, e.g. +8613800000000")
# No U+0000: PostgreSQL cannot store it, and a client must never be able to cause a 500.
UserId = Field(min_length=1, max_length=64, pattern=r"^[^\x00]+$", description="the partner's own user id")
WebhookUrl = r"^https?://[^\x00-\x20\x7f]+$"  # no spaces or control characters (RFC 3986)


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class BindingCreate(_Strict):
    user: str = UserId
    mobile: str = Mobile


class BindingRead(BaseModel):
    citizen_id: str
    created: bool


class TripData(_Strict):
    mode: Literal["bus", "metro", "bike", "walk", "ev_car"]
    distance_m: int = Field(gt=0)
    duration_s: int = Field(gt=0)


class WasteSortingData(_Strict):
    category: Literal["recyclable", "kitchen", "hazardous", "other"]
    weight_g: int = Field(gt=0)
    station_id: str
    material: Literal["paper", "plastic", "metal", "glass", "textile"] | None = None


class CleanPlateData(_Strict):
    canteen_id: str
    meal: Literal["breakfast", "lunch", "dinner"]
    verified_by: Literal["photo_ai", "staff"]


class ActionBodyIn(_Strict):
    type: Literal["trip", "waste_sorting", "clean_plate"]
    occurred_at: datetime = Field(description="RFC 3339 with offset; ≤ 300 s ahead, ≤ 7 days old")
    region: str = Field(
        pattern=r"^[0-9]{6}$", description="division of Shantou, e.g. 440507; 440523 is Nan'ao"
    )
    data: TripData | WasteSortingData | CleanPlateData


class ActionIn(ActionBodyIn):
    event_id: str = Field(pattern=r"^[A-Za-z0-9._:-]{1,64}$", description="unique per partner")
    user: str = UserId


class ActionBatch(_Strict):
    actions: list[ActionIn] = Field(min_length=1, max_length=1000)


class Problem(BaseModel):
    type: str
    title: str
    status: int
    detail: str
    pointer: str | None = None


class ItemResult(BaseModel):
    event_id: str | None
    status: Literal["accepted", "duplicate", "rejected"]
    problem: Problem | None = None


class BatchReceipt(BaseModel):
    results: list[ItemResult]
    accepted: int
    duplicates: int
    rejected: int


class OutcomeRead(BaseModel):
    event_id: str
    status: Literal["pending", "credited", "capped", "rejected"]
    citizen_id: str
    reduction_g: int
    points: int
    methodology: str | None
    book: Literal["shantou", "nanao"]
    reasons: list[str]


class CitizenTokenCreate(_Strict):
    user: str = UserId


class CitizenTokenRead(BaseModel):
    access_token: str
    token_type: Literal["Bearer"] = "Bearer"
    expires_in: int


class QuoteRead(BaseModel):
    reduction_g: int
    points: int
    methodology: str


class WebhookUpdate(_Strict):
    url: str = Field(
        pattern=WebhookUrl, max_length=2000, description="where action.settled and points.expiring are POSTed"
    )


class WebhookRead(BaseModel):
    url: str
    secret: str = Field(description="signs every webhook (same scheme as requests); shown once")
