"""Partners, their signing keys and their webhook."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Column
from sqlmodel import Field, SQLModel

from backend.models.types import JsonColumn, UtcDateTime


class Partner(SQLModel, table=True):
    __tablename__ = "partners"

    partner_id: str = Field(primary_key=True, max_length=32)
    name: str = Field(default="", max_length=200)
    types: list[str] = Field(sa_column=Column(JsonColumn, nullable=False))
    regions: list[str] = Field(sa_column=Column(JsonColumn, nullable=False))
    webhook_url: str | None = Field(default=None, max_length=2000)
    webhook_secret_enc: str | None = Field(default=None, max_length=500)  # SecretBox ciphertext
    created_at: datetime = Field(sa_type=UtcDateTime, nullable=False)  # type: ignore[call-overload]


class PartnerKey(SQLModel, table=True):
    __tablename__ = "partner_keys"

    partner_id: str = Field(primary_key=True, foreign_key="partners.partner_id", max_length=32)
    key_id: str = Field(primary_key=True, max_length=32)
    secret_enc: str = Field(max_length=500)  # SecretBox ciphertext; the plain secret is shown once
    status: str = Field(default="active", max_length=16)  # active | revoked
    created_at: datetime = Field(sa_type=UtcDateTime, nullable=False)  # type: ignore[call-overload]
    revoked_at: datetime | None = Field(default=None, sa_type=UtcDateTime)  # type: ignore[call-overload]
