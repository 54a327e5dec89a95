"""Test data written through the app's own services."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from backend.admin_api import partners as partner_admin
from backend.context import Platform
from partners.sdk import AsyncTanhuiClient, Credentials

ALL_TYPES = ["trip", "waste_sorting", "clean_plate"]
CITY = ["440507", "440511", "440512", "440513", "440514", "440515"]
ALL_REGIONS = [*CITY, "440523"]
_seq = itertools.count(1)


async def make_partner(
    platform: Platform,
    partner_id: str = "transit_st",
    types: list[str] | None = None,
    regions: list[str] | None = None,
) -> Credentials:
    issued = await partner_admin.create_partner(
        platform, partner_id, types or ALL_TYPES, regions or ALL_REGIONS
    )
    return Credentials(partner_id=issued.partner_id, key_id=issued.key_id, secret=issued.secret)


def sdk(app: Any, creds: Credentials) -> AsyncTanhuiClient:
    """The partner SDK talking to the app in-process (no retries: a test sees the first answer)."""
    return AsyncTanhuiClient(
        "http://tanhui.test", creds, transport=httpx.ASGITransport(app=app), max_retries=0
    )


def trip(user: str = "wx_user_1", **overrides: Any) -> dict[str, Any]:
    """A plausible bus trip an hour ago, in Longhu."""
    at = datetime.now(UTC) - timedelta(hours=1)
    action: dict[str, Any] = {
        "event_id": f"bus-{next(_seq):08d}",
        "user": user,
        "type": "trip",
        "occurred_at": at.astimezone().isoformat(timespec="seconds"),
        "region": "440507",
        "data": {"mode": "bus", "distance_m": 5200, "duration_s": 1380},
    }
    action.update(overrides)
    return action


def mobile(n: int) -> str:
    return f"+86138{n:08d}"
