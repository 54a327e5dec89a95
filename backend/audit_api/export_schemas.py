"""Wire models of the pilot report (docs/reports.md). Every quantity is an integer."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field


class SumsRead(BaseModel):
    actions: int
    grams: int = Field(description="grams CO2e")
    points: int


class TypeSumsRead(SumsRead):
    type: str


class MonthSumsRead(SumsRead):
    month: str = Field(description="YYYY-MM, Asia/Shanghai")


class MonthTypeSumsRead(SumsRead):
    month: str
    type: str


class ReductionsRead(BaseModel):
    """Eligible settled outcomes of the year: credited or capped, grams > 0, not flagged."""

    total: SumsRead
    by_type: list[TypeSumsRead]
    by_month: list[MonthSumsRead] = Field(description="all twelve months, in order")
    by_month_and_type: list[MonthTypeSumsRead] = Field(description="only the pairs with actions")


class FlaggedRead(BaseModel):
    """Outcomes that would be eligible but are flagged for review."""

    actions: int
    grams: int
    awaiting_review: int
    approved: int
    rejected: int


class RunLineRead(BaseModel):
    run_id: str
    period: str
    number: int
    status: str
    tree_size: int
    reduction_g: int
    carry_in_g: int
    carry_out_g: int
    tonnes: int
    points: int
    root: str
    issued_at: datetime


class CertifiedRead(BaseModel):
    """What the book's runs of the year's vintage certified and issued."""

    actions: int
    grams: int
    points: int
    tonnes: int = Field(description="credits issued")
    runs: list[RunLineRead]


class CreditsRead(BaseModel):
    """Tonnes of the year's vintage by where they are now (current pieces)."""

    total_t: int = Field(description="the sum of the five below; equals `certified.tonnes`")
    retired_for_pilot_t: int = Field(description="retired by `nanao-pilot`: counts towards the target")
    held_by_pilot_t: int = Field(description="held by `nanao-pilot`, not yet retired")
    sold_t: int = Field(description="held by buyer accounts, active or retired")
    held_by_book_t: int = Field(description="still held by the `nanao` book account")
    other_t: int = Field(description="anything else (should be 0)")


class ProgressRead(BaseModel):
    per_mille: int = Field(description="retired_for_pilot_t × 1000 ÷ target_t, rounded down")
    percent: str = Field(description="the same with one decimal, e.g. `12.3%`")


class PilotReportRead(BaseModel):
    book: str
    year: int
    generated_at: datetime
    target_t: int | None = Field(description="whole tonnes; null if no target is set for the year")
    reductions: ReductionsRead
    flagged: FlaggedRead
    certified: CertifiedRead
    credits: CreditsRead
    progress: ProgressRead | None = Field(description="null without a target")
