"""The audit log: one row per administrative event, chained by hash (points_engine.audit).

Append-only: on PostgreSQL a trigger refuses UPDATE, DELETE and TRUNCATE (migration 0003); a
table owner or superuser can still get around it, which is what ``tanhui audit verify`` catches.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, Column
from sqlmodel import Field, SQLModel

from backend.models.types import JsonColumn, UtcDateTime
from points_engine.audit import ACTION_MAX, ACTOR_MAX, SUBJECT_MAX


class AuditRecord(SQLModel, table=True):
    """One chained event; ``seq`` is gap-free from 1, assigned under a lock by ``backend.audit``."""

    __tablename__ = "audit_log"

    seq: int = Field(sa_column=Column(BigInteger, primary_key=True, autoincrement=False))
    at: datetime = Field(sa_type=UtcDateTime, nullable=False)  # type: ignore[call-overload]
    actor: str = Field(max_length=ACTOR_MAX)
    action: str = Field(max_length=ACTION_MAX)
    subject: str = Field(max_length=SUBJECT_MAX)
    details: dict[str, Any] = Field(sa_column=Column(JsonColumn, nullable=False))
    prev_hash: str = Field(max_length=64)
    hash: str = Field(max_length=64)
