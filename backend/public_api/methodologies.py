"""Routes of ``/v1/methodologies``: every version in force or to come, with its factors and sources."""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter
from pydantic import BaseModel, Field

from backend.deps import PlatformDep
from backend.methodologies import MethodologyDocument
from backend.openapi import problem_responses

router = APIRouter(prefix="/v1/methodologies", tags=["methodologies"])


class MethodologySummary(BaseModel):
    version: str
    effective_from: str = Field(description="ISO 8601 with its offset: in force from then until the next")
    source: Literal["bundled", "published"]
    published_at: str | None


@router.get("")
async def list_methodologies(platform: PlatformDep) -> list[MethodologySummary]:
    """Every methodology version, oldest first. An action is priced by the latest version whose
    `effective_from` is at or before its `occurred_at`."""
    return [
        MethodologySummary(
            version=entry.version.version,
            effective_from=entry.version.effective_from.isoformat(),
            source=entry.source,
            published_at=entry.published_at.isoformat() if entry.published_at else None,
        )
        for entry in await platform.methodologies.versions()
    ]


@router.get(
    "/{version}",
    response_model_exclude_none=True,  # a factor without notes has none, as in the published file
    responses=problem_responses("methodology-not-found", signed=False),
)
async def get_methodology(version: str, platform: PlatformDep) -> MethodologyDocument:
    """One version as published: every factor with its unit and source, and points per gram per book.
    (`waste.recyclable` without a material is not listed: it takes the lowest recyclable factor.)"""
    entry = await platform.methodologies.get(version)
    return MethodologyDocument.model_validate(entry.version.to_json())
