"""Accepted actions: the durable record of intake. Grows with traffic.

Keyed by (partner_id, event_id), the idempotency key of the contract; received_at
and citizen_id are indexed so the table can be partitioned by time or by citizen.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Column
from sqlmodel import Field, SQLModel

from backend.models.types import JsonColumn, UtcDateTime


class AcceptedAction(SQLModel, table=True):
    __tablename__ = "actions"

    partner_id: str = Field(primary_key=True, max_length=32)
    event_id: str = Field(primary_key=True, max_length=64)
    citizen_id: str = Field(index=True, max_length=40)
    user: str = Field(max_length=64)
    type: str = Field(max_length=16)
    occurred_at: datetime = Field(sa_type=UtcDateTime, nullable=False)  # type: ignore[call-overload]
    region: str = Field(max_length=6)
    book: str = Field(max_length=16)
    data: dict[str, Any] = Field(sa_column=Column(JsonColumn, nullable=False))
    content_hash: str = Field(
        max_length=64
    )  # SHA-256 of the canonical content: tells a retry from a conflict
    received_at: datetime = Field(sa_type=UtcDateTime, nullable=False, index=True)  # type: ignore[call-overload]
