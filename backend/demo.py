"""``tanhui demo``: demo partners, citizens and a week of traffic, sent through the real HTTP API,
then certified: credits in both books, a retirement for the Nan'ao pilot, and a proof checked offline.

Partners are created through the admin service (their secrets kept in ``var/demo-partners.json``,
mode 0600), then each reference simulator replays the last ``days`` days (Asia/Shanghai) with the
SDK, over the network like any partner: the city's population, and a cohort living in Nan'ao (the
pilot county is ~1 % of the city, too few to reach a certified tonne in a week on its own). The
same population is shared, so one citizen appears at several partners. Running it again is
idempotent: the same event ids come back as ``duplicate``, and certification finds nothing new.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import time
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import httpx
from sqlalchemy import func, select

from backend import registry
from backend.admin_api import partners as partner_admin
from backend.certification.books import PILOT_ACCOUNT
from backend.certification.runs import certify
from backend.context import Platform
from backend.errors import NothingToCertify, PartnerExists, TooManyKeys
from backend.models import AcceptedAction, CreditRange, RunChunk, SettledOutcome
from backend.settings import Settings
from partners.sdk import Credentials, TanhuiClient, verify_proof
from partners.simulators.base import Traffic, sort_actions
from partners.simulators.registry import GENERATORS
from partners.simulators.report import Progress
from partners.simulators.run import replay_day
from points_engine.certification import Period
from points_engine.regions import BOOKS, NANAO

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


NANAO_POPULATION = 2  # population seed of the Nan'ao cohort (the city's is 1)


def seed(
    settings: Settings,
    base_url: str,
    *,
    citizens: int = 1000,
    nanao_citizens: int = 700,
    days: int = 6,
    progress: bool = True,
) -> dict[str, Any]:
    """Seed demo data into the platform at ``base_url``; a summary per partner and totals."""
    creds = asyncio.run(_ensure_partners(settings))
    today = datetime.now(SHANGHAI).date()
    # Intake takes actions up to 7 days old: the last `days` whole days, yesterday last.
    span = [today - timedelta(days=d) for d in range(min(days, 6), 0, -1)]
    per_partner: dict[str, Any] = {}
    for kind, (partner_id, _, _) in DEMO_PARTNERS.items():
        generator = GENERATORS[kind]
        parts = [generator.day(day, citizens=citizens, seed=1, population_seed=1) for day in span]
        parts += [
            generator.day(day, citizens=nanao_citizens, seed=1, population_seed=NANAO_POPULATION, home=NANAO)
            for day in span
        ]
        traffic = Traffic(
            list(dict.fromkeys(b for part in parts for b in part.bindings)),
            sort_actions([a for part in parts for a in part.actions]),
        )
        bar = Progress(f"demo {partner_id}", total=len(traffic.actions)) if progress else None
        with TanhuiClient(base_url, creds[partner_id]) as client:
            per_partner[partner_id] = replay_day(client, traffic, progress=bar)
    totals = {
        key: sum(s[key] for s in per_partner.values())
        for key in ("bindings", "actions", "accepted", "duplicates", "rejected")
    }
    return {
        "days": [d.isoformat() for d in span],
        "partners": per_partner,
        "totals": totals,
        "credentials_file": str(_credentials_file(settings)),
    }


def certify_and_prove(settings: Settings, base_url: str, *, timeout: float = 600.0) -> dict[str, Any]:
    """Once every accepted action has settled: certify both books, retire a tonne for the Nan'ao
    pilot, and verify a Nan'ao action's proof against the public registry, as anyone would."""
    return asyncio.run(_certify_and_prove(settings, base_url, timeout))


async def _certify_and_prove(settings: Settings, base_url: str, timeout: float) -> dict[str, Any]:
    platform = await Platform.open(settings)
    try:
        await _settled(platform, timeout)
        runs = []
        today = datetime.now(SHANGHAI)
        periods = sorted({str(Period.containing(today - timedelta(days=d))) for d in range(0, 8)})
        for book in BOOKS:
            for period in periods:
                with contextlib.suppress(NothingToCertify):
                    runs.append(await certify(platform.db, book, period, actor="demo"))
        retirement = await _retire_for_pilot(platform)
        first = await _first_leaf(platform, retirement["run_id"]) if retirement else None
    finally:
        await platform.close()
    proof = _proof_of(base_url, retirement["run_id"], first) if retirement and first else None
    return {
        "runs": [
            {
                k: r.as_dict()[k]
                for k in ("run_id", "tree_size", "reduction_g", "tonnes", "carry_out_g", "serial")
            }
            for r in runs
        ],
        "retirement": retirement,
        "proof": proof,
    }


async def _settled(platform: Platform, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while True:
        async with platform.db.read() as conn:
            accepted = (await conn.execute(select(func.count()).select_from(AcceptedAction))).scalar_one()
            settled = (await conn.execute(select(func.count()).select_from(SettledOutcome))).scalar_one()
        if settled >= accepted:
            return
        if time.monotonic() > deadline:
            raise TimeoutError(
                f"{accepted - settled} of {accepted} demo actions unsettled after {timeout:.0f} s"
            )
        await asyncio.sleep(0.5)


async def _retire_for_pilot(platform: Platform) -> dict[str, Any] | None:
    """The Nan'ao pilot's retirement of one tonne (once: a second demo finds it done)."""
    ranges = CreditRange.__table__  # type: ignore[attr-defined]
    async with platform.db.read() as conn:
        done = (
            await conn.execute(
                select(ranges)
                .where(ranges.c.account_id == PILOT_ACCOUNT, ranges.c.status == "retired")
                .limit(1)
            )
        ).first()
        held = (
            await conn.execute(
                select(ranges)
                .where(ranges.c.account_id == "nanao", ranges.c.status == "active")
                .order_by(ranges.c.run_number, ranges.c.first)
                .limit(1)
            )
        ).first()
    if done is not None:
        return {"serial": done.serial, "run_id": done.run_id, "beneficiary": done.beneficiary, "new": False}
    if held is None:
        return None
    moved = await registry.transfer(platform.db, held.serial, PILOT_ACCOUNT, "demo", held.first, held.first)
    piece = moved.piece
    beneficiary = "南澳县碳中和试点 Nan'ao carbon-neutral pilot"
    purpose = f"carbon neutrality claim {held.vintage}"
    await registry.retire(platform.db, piece.serial, beneficiary, purpose, "demo")
    return {"serial": piece.serial, "run_id": held.run_id, "beneficiary": beneficiary, "new": True}


async def _first_leaf(platform: Platform, run_id: str) -> tuple[str, str] | None:
    chunks = RunChunk.__table__  # type: ignore[attr-defined]
    async with platform.db.read() as conn:
        row = (
            await conn.execute(
                select(chunks.c.first_partner_id, chunks.c.first_event_id).where(
                    chunks.c.run_id == run_id, chunks.c.chunk == 0
                )
            )
        ).first()
    return None if row is None else (row[0], row[1])


def _proof_of(base_url: str, run_id: str, action: tuple[str, str]) -> dict[str, Any]:
    """Fetch the action's proof from the public API and check it offline against the run the
    public registry publishes, as a citizen or auditor would: our code is not trusted for it."""
    with httpx.Client(base_url=base_url, timeout=30) as http:
        published = http.get(f"/v1/registry/runs/{run_id}").json()
        proof = http.get(f"/v1/registry/proofs/{action[0]}/{action[1]}").json()
    leaf = verify_proof(proof, published["root"], published_tree_size=published["tree_size"])
    return {
        "run_id": leaf.run_id,
        "partner_id": leaf.partner_id,
        "event_id": leaf.event_id,
        "leaf_index": leaf.leaf_index,
        "tree_size": leaf.tree_size,
        "root": leaf.root,
        "verified": True,
    }


def describe(summary: dict[str, Any]) -> str:
    """The demo's summary for people: what was sent, what was certified, retired and proven."""
    lines = [f"demo seeded: {json.dumps(summary['totals'])}"]
    certification = summary.get("certification")
    if certification:
        for run in certification["runs"]:
            serial = run["serial"] or "(under a tonne: carried over)"
            lines.append(f"  {run['run_id']}: {run['tree_size']:,} actions, {run['tonnes']} t  {serial}")
        retired = certification["retirement"]
        if retired:
            lines.append(f"  retired {retired['serial']} for {retired['beneficiary']}")
        proof = certification["proof"]
        if proof:
            lines.append(
                f"  proof: {proof['event_id']} of {proof['partner_id']} is leaf {proof['leaf_index']} of "
                f"{proof['tree_size']} in {proof['run_id']} — verified offline against the public registry"
            )
    if summary.get("shop"):
        from backend.demo_shop import describe as describe_shop

        lines.extend(describe_shop(summary["shop"]))
    return "\n".join(lines)
