"""Citizens (one person across partners) and the partners' user ids bound to them."""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Field, SQLModel

from backend.models.types import UtcDateTime


class Citizen(SQLModel, table=True):
    __tablename__ = "citizens"

    citizen_id: str = Field(primary_key=True, max_length=40)
    # Keyed hash (HMAC-SHA256 with the PII key) of the E.164 mobile: the number itself is never stored.
    # A deleted citizen's is a random tombstone (docs/privacy.md): the mobile may bind anew.
    mobile_hash: str = Field(unique=True, max_length=64)
    created_at: datetime = Field(sa_type=UtcDateTime, nullable=False)  # type: ignore[call-overload]
    deleted_at: datetime | None = Field(default=None, sa_type=UtcDateTime)  # type: ignore[call-overload]


class Binding(SQLModel, table=True):
    """A partner's user id bound to a citizen; binding records the citizen's consent to that partner."""

    __tablename__ = "bindings"

    partner_id: str = Field(primary_key=True, foreign_key="partners.partner_id", max_length=32)
    user: str = Field(primary_key=True, max_length=64)
    citizen_id: str = Field(foreign_key="citizens.citizen_id", index=True, max_length=40)
    created_at: datetime = Field(sa_type=UtcDateTime, nullable=False)  # type: ignore[call-overload]
    consent_withdrawn_at: datetime | None = Field(default=None, sa_type=UtcDateTime)  # type: ignore[call-overload]
