"""``tanhui demo``: demo partners, citizens and a day of traffic, sent through the real HTTP API.

Partners are created through the admin service (their secrets kept in ``var/demo-partners.json``,
mode 0600), then each reference simulator replays yesterday (Asia/Shanghai) with the SDK, over the
network like any partner. The same population is shared, so one citizen appears at several
partners. Running it again is idempotent: the same event ids come back as ``duplicate``.
"""

from __future__ import annotations

import asyncio
import json
import os
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from backend.admin_api import partners as partner_admin
from backend.context import Platform
from backend.errors import PartnerExists, TooManyKeys
from backend.settings import Settings
from partners.sdk import Credentials, TanhuiClient
from partners.simulators.registry import GENERATORS
from partners.simulators.report import Progress
from partners.simulators.run import replay_day

SHANGHAI = ZoneInfo("Asia/Shanghai")
ALL_REGIONS = ["440507", "440511", "440512", "440513", "440514", "440515", "440523"]
DEMO_PARTNERS: dict[str, tuple[str, str, list[str]]] = {
    # simulator kind: (partner id, display name, permitted types)
    "transit": ("transit_st", "汕头公交 Shantou Bus", ["trip"]),
    "bike": ("bike_st", "汕头共享单车 Bike Share", ["trip"]),
    "waste": ("waste_st", "智能垃圾分类站 Smart Sorting", ["waste_sorting"]),
    "canteen": ("canteen_st", "光盘行动食堂 Clean Plate Canteens", ["clean_plate"]),
}


def _credentials_file(settings: Settings) -> Path:
    return settings.var_dir / "demo-partners.json"


async def _ensure_partners(settings: Settings) -> dict[str, Credentials]:
    """Demo partners with a usable key each; secrets we no longer hold are replaced by a fresh key."""
    path = _credentials_file(settings)
    known: dict[str, dict[str, str]] = json.loads(path.read_text()) if path.exists() else {}
    platform = await Platform.open(settings)
    try:
        existing = {p["partner_id"]: p for p in await partner_admin.list_partners(platform)}
        for partner_id, name, types in DEMO_PARTNERS.values():
            active = {
                k["key_id"] for k in existing.get(partner_id, {}).get("keys", []) if k["status"] == "active"
            }
            if partner_id in known and known[partner_id]["key_id"] in active:
                continue
            try:
                issued = await partner_admin.create_partner(platform, partner_id, types, ALL_REGIONS, name)
            except PartnerExists:
                try:
                    issued = await partner_admin.rotate_key(platform, partner_id)
                except TooManyKeys:
                    await partner_admin.revoke_key(platform, partner_id, sorted(active)[0])
                    issued = await partner_admin.rotate_key(platform, partner_id)
            known[partner_id] = issued.as_dict()
    finally:
        await platform.close()
    path.write_text(json.dumps(known, indent=2))
    os.chmod(path, 0o600)
    return {pid: Credentials(c["partner_id"], c["key_id"], c["secret"]) for pid, c in known.items()}


def seed(settings: Settings, base_url: str, *, citizens: int = 200, progress: bool = True) -> dict[str, Any]:
    """Seed demo data into the platform at ``base_url``; a summary per partner and totals."""
    creds = asyncio.run(_ensure_partners(settings))
    day = (datetime.now(SHANGHAI) - timedelta(days=1)).date()
    per_partner: dict[str, Any] = {}
    for kind, (partner_id, _, _) in DEMO_PARTNERS.items():
        traffic = GENERATORS[kind].day(day, citizens=citizens, seed=1, population_seed=1)
        bar = Progress(f"demo {partner_id}", total=len(traffic.actions)) if progress else None
        with TanhuiClient(base_url, creds[partner_id]) as client:
            per_partner[partner_id] = replay_day(client, traffic, progress=bar)
    totals = {
        key: sum(s[key] for s in per_partner.values())
        for key in ("bindings", "actions", "accepted", "duplicates", "rejected")
    }
    return {
        "day": day.isoformat(),
        "partners": per_partner,
        "totals": totals,
        "credentials_file": str(_credentials_file(settings)),
    }
