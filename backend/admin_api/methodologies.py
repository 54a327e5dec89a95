"""Publishing methodology versions: shared by the admin API and the ``tanhui methodology`` CLI."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from backend.context import Platform
from backend.methodologies import MethodologyEntry


async def publish_methodology(platform: Platform, document: Any, published_by: str) -> MethodologyEntry:
    """Publish ``document`` now: in force from its effective_from, on every process, never changed."""
    now = datetime.now(UTC)
    version = await platform.methodologies.publish(document, published_by, now)
    return MethodologyEntry(version, "published", now, published_by)


async def list_methodologies(platform: Platform) -> list[MethodologyEntry]:
    """Every version, bundled and published, oldest first."""
    return await platform.methodologies.versions()


def summary(entry: MethodologyEntry) -> dict[str, Any]:
    """The JSON summary of a version (no factors), as the admin API and the CLI show it."""
    return {
        "version": entry.version.version,
        "effective_from": entry.version.effective_from.isoformat(),
        "source": entry.source,
        "published_at": entry.published_at.isoformat() if entry.published_at else None,
        "published_by": entry.published_by,
    }
