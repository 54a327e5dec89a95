"""Managing partners and their keys: shared by the admin API and the ``tanhui partner`` CLI."""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select, update

from backend import audit
from backend.context import Platform
from backend.db import Tx
from backend.errors import InvalidRequest, PartnerExists, TooManyKeys, UnknownKey, UnknownPartner
from backend.models import Partner, PartnerKey
from points_engine.actions import ACTION_TYPES
from points_engine.regions import SHANTOU_REGIONS

PARTNER_ID = re.compile(r"[a-z0-9_]{3,32}")
MAX_ACTIVE_KEYS = 2


@dataclass(frozen=True, slots=True)
class IssuedKey:
    partner_id: str
    key_id: str
    secret: str  # shown once

    def as_dict(self) -> dict[str, str]:
        return {"partner_id": self.partner_id, "key_id": self.key_id, "secret": self.secret}


def _check(partner_id: str, types: list[str], regions: list[str]) -> None:
    if not PARTNER_ID.fullmatch(partner_id):
        raise InvalidRequest("partner_id must be 3-32 characters of [a-z0-9_]")
    bad = [t for t in types if t not in ACTION_TYPES] + [r for r in regions if r not in SHANTOU_REGIONS]
    if bad or not types or not regions:
        raise InvalidRequest(f"unknown or missing types/regions: {bad or 'none given'}")


def _new_secret() -> str:
    return "tsk_live_" + secrets.token_hex(16)


async def create_partner(
    platform: Platform,
    partner_id: str,
    types: list[str],
    regions: list[str],
    name: str = "",
    *,
    actor: str = "system",
) -> IssuedKey:
    """A new partner with its first key ``k1``; the secret is returned once and stored sealed."""
    _check(partner_id, types, regions)
    secret = _new_secret()

    async def use_case(tx: Tx) -> IssuedKey:
        exists = await tx.conn.execute(select(Partner.partner_id).where(Partner.partner_id == partner_id))
        if exists.first():
            raise PartnerExists(f"partner {partner_id!r} exists")
        await tx.conn.execute(
            Partner.__table__.insert().values(  # type: ignore[attr-defined]
                partner_id=partner_id,
                name=name or partner_id,
                types=sorted(set(types)),
                regions=sorted(set(regions)),
                created_at=tx.started_at,
            )
        )
        await _insert_key(platform, tx, partner_id, "k1", secret)
        details = {"name": name or partner_id, "types": sorted(set(types)), "regions": sorted(set(regions))}
        await audit.record(tx, actor, "partner.created", _subject(partner_id), {**details, "key_id": "k1"})
        return IssuedKey(partner_id, "k1", secret)

    result: IssuedKey = await platform.db.run(use_case)
    return result


async def _insert_key(platform: Platform, tx: Tx, partner_id: str, key_id: str, secret: str) -> None:
    await tx.conn.execute(
        PartnerKey.__table__.insert().values(  # type: ignore[attr-defined]
            partner_id=partner_id,
            key_id=key_id,
            status="active",
            created_at=tx.started_at,
            secret_enc=platform.box.seal(secret, f"partner-key:{partner_id}:{key_id}"),
        )
    )
    tx.after_commit(lambda: platform.partners.invalidate(partner_id))


async def rotate_key(platform: Platform, partner_id: str, *, actor: str = "system") -> IssuedKey:
    """Issue the next key (k2, k3, …) while the current one stays valid: at most two are active."""
    secret = _new_secret()

    async def use_case(tx: Tx) -> IssuedKey:
        keys = await _keys(tx, partner_id)
        if sum(1 for k in keys if k.status == "active") >= MAX_ACTIVE_KEYS:
            raise TooManyKeys(f"partner {partner_id!r} has {MAX_ACTIVE_KEYS} active keys; revoke one first")
        key_id = f"k{max(int(k.key_id[1:]) for k in keys if k.key_id[1:].isdigit()) + 1}"
        await _insert_key(platform, tx, partner_id, key_id, secret)
        await audit.record(tx, actor, "partner.key-rotated", _subject(partner_id), {"key_id": key_id})
        return IssuedKey(partner_id, key_id, secret)

    result: IssuedKey = await platform.db.run(use_case)
    return result


async def revoke_key(platform: Platform, partner_id: str, key_id: str, *, actor: str = "system") -> None:
    """Revoke a key: it fails at once on every process (the partner cache is dropped on commit)."""

    async def use_case(tx: Tx) -> None:
        keys = {k.key_id: k for k in await _keys(tx, partner_id)}
        if key_id not in keys:
            raise UnknownKey(f"partner {partner_id!r} has no key {key_id!r}")
        await tx.conn.execute(
            update(PartnerKey)
            .where(PartnerKey.partner_id == partner_id, PartnerKey.key_id == key_id)  # type: ignore[arg-type]
            .values(status="revoked", revoked_at=tx.started_at)
        )
        tx.after_commit(lambda: platform.partners.invalidate(partner_id))
        await audit.record(tx, actor, "partner.key-revoked", _subject(partner_id), {"key_id": key_id})

    await platform.db.run(use_case)


async def set_webhook(
    platform: Platform, partner_id: str, url: str | None, *, actor: str = "system"
) -> str | None:
    """Set (or clear, with None) a partner's webhook URL; returns the new signing secret, shown once."""
    secret = "whsec_" + secrets.token_hex(24) if url else None

    async def use_case(tx: Tx) -> None:
        await _partner(tx, partner_id)
        sealed = platform.box.seal(secret, f"webhook:{partner_id}") if secret else None
        await tx.conn.execute(
            update(Partner)
            .where(Partner.partner_id == partner_id)  # type: ignore[arg-type]
            .values(webhook_url=url, webhook_secret_enc=sealed)
        )
        tx.after_commit(lambda: platform.partners.invalidate(partner_id))
        await audit.record(tx, actor, "partner.webhook-set", _subject(partner_id), {"url": url})

    await platform.db.run(use_case)
    return secret


async def list_partners(platform: Platform) -> list[dict[str, Any]]:
    """Every partner with its permissions and keys (never a secret)."""
    async with platform.db.read() as conn:
        partners = list(await conn.execute(select(Partner).order_by(Partner.partner_id)))  # type: ignore[arg-type]
        keys = list(await conn.execute(select(PartnerKey).order_by(PartnerKey.key_id)))  # type: ignore[arg-type]
    return [
        {
            "partner_id": p.partner_id,
            "name": p.name,
            "types": p.types,
            "regions": p.regions,
            "webhook_url": p.webhook_url,
            "created_at": p.created_at.isoformat(),
            "keys": [
                {"key_id": k.key_id, "status": k.status, "created_at": k.created_at.isoformat()}
                for k in keys
                if k.partner_id == p.partner_id
            ],
        }
        for p in partners
    ]


def _subject(partner_id: str) -> str:
    return f"partner:{partner_id}"


async def _partner(tx: Tx, partner_id: str) -> Any:
    if not PARTNER_ID.fullmatch(partner_id):  # no such partner can exist (and U+0000 would fail the query)
        raise UnknownPartner(f"no partner {partner_id!r}")
    row = (await tx.conn.execute(select(Partner).where(Partner.partner_id == partner_id))).first()  # type: ignore[arg-type]
    if row is None:
        raise UnknownPartner(f"no partner {partner_id!r}")
    return row


async def _keys(tx: Tx, partner_id: str) -> list[Any]:
    await _partner(tx, partner_id)
    return list(await tx.conn.execute(select(PartnerKey).where(PartnerKey.partner_id == partner_id)))  # type: ignore[arg-type]
