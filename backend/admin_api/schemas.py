"""Wire models of the admin API."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


class PartnerCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    partner_id: str = Field(pattern=r"^[a-z0-9_]{3,32}$")
    name: str = Field(default="", max_length=200, pattern=r"^[^\x00]*$")  # PostgreSQL cannot store U+0000
    types: list[str] = Field(min_length=1)
    regions: list[str] = Field(min_length=1)


class KeyIssued(BaseModel):
    partner_id: str
    key_id: str
    secret: str = Field(description="shown once")


class KeyRead(BaseModel):
    key_id: str
    status: str
    created_at: str


class PartnerRead(BaseModel):
    partner_id: str
    name: str
    types: list[str]
    regions: list[str]
    webhook_url: str | None
    created_at: str
    keys: list[KeyRead]


class WebhookSet(BaseModel):
    model_config = ConfigDict(extra="forbid")
    url: str | None = Field(pattern=r"^https?://[^\x00-\x20\x7f]+$", max_length=2000)


class WebhookSecret(BaseModel):
    url: str | None
    secret: str | None = Field(description="signs the deliveries; shown once")


class MethodologyRead(BaseModel):
    version: str
    effective_from: str = Field(description="ISO 8601 with its offset, as published")
    source: Literal["bundled", "published"] = Field(
        description="bundled with the code, or published since (admin API, CLI)"
    )
    published_at: str | None
    published_by: str | None
