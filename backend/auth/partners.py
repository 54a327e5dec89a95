"""Who a partner is and which keys it signs with: read through a Redis cache.

The cache holds sealed secrets only, is keyed per partner (``{p_…}``), and is
dropped after any change to the partner, so a revoked key fails at once on every
process. A lost cache is rebuilt from the database on the next request.

A change also bumps the partner's generation; a reader refills the cache only if the
generation it saw before reading the database is still current, so a read that raced
with a revocation cannot put the revoked key back into the cache.
"""

from __future__ import annotations

from dataclasses import dataclass

import orjson
import redis.asyncio as aioredis
from sqlalchemy import select

from backend.crypto import SecretBox
from backend.db import Database
from backend.models import Partner, PartnerKey
from backend.redis import Keys
from points_engine.intake import Permissions

_CACHE_TTL_S = 300
# KEYS: cache, generation; ARGV: generation seen before the database read, record, ttl.
_FILL_IF_CURRENT = """
if (redis.call('GET', KEYS[2]) or '0') == ARGV[1] then
  redis.call('SET', KEYS[1], ARGV[2], 'EX', ARGV[3])
end
return 0
"""


@dataclass(frozen=True, slots=True)
class PartnerRecord:
    partner_id: str
    permissions: Permissions
    keys: dict[str, tuple[str, str]]  # key_id -> (sealed secret, status)
    webhook_url: str | None


class PartnerDirectory:
    def __init__(self, db: Database, redis: aioredis.Redis, keys: Keys, box: SecretBox) -> None:
        self._db, self._redis, self._keys, self._box = db, redis, keys, box

    async def lookup(self, partner_id: str) -> PartnerRecord | None:
        key = self._keys.partner(partner_id)
        cached = await self._redis.get(key)
        if cached is not None:
            return _decode(partner_id, cached)
        generation = await self._redis.get(_generation(key)) or b"0"
        record = await self._load(partner_id)
        if record is not None:
            await self._redis.eval(
                _FILL_IF_CURRENT, 2, key, _generation(key), generation, _encode(record), _CACHE_TTL_S
            )
        return record

    def secret(self, partner_id: str, key_id: str, sealed: str) -> str:
        return self._box.open(sealed, f"partner-key:{partner_id}:{key_id}")

    async def invalidate(self, partner_id: str) -> None:
        key = self._keys.partner(partner_id)
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.incr(_generation(key))
            pipe.delete(key)
            await pipe.execute()

    async def _load(self, partner_id: str) -> PartnerRecord | None:
        async with self._db.read() as conn:
            partner = (await conn.execute(select(Partner).where(Partner.partner_id == partner_id))).first()
            if partner is None:
                return None
            rows = await conn.execute(select(PartnerKey).where(PartnerKey.partner_id == partner_id))
            keys = {k.key_id: (k.secret_enc, k.status) for k in rows}
        perms = Permissions(types=frozenset(partner.types), regions=frozenset(partner.regions))
        return PartnerRecord(partner_id, perms, keys, partner.webhook_url)


def _generation(cache_key: str) -> str:
    return cache_key + ":generation"  # same hash tag as the cache: one shard


def _encode(record: PartnerRecord) -> bytes:
    return orjson.dumps(
        {
            "types": sorted(record.permissions.types),
            "regions": sorted(record.permissions.regions),
            "keys": record.keys,
            "webhook_url": record.webhook_url,
        }
    )


def _decode(partner_id: str, raw: bytes) -> PartnerRecord:
    data = orjson.loads(raw)
    perms = Permissions(types=frozenset(data["types"]), regions=frozenset(data["regions"]))
    keys = {k: (v[0], v[1]) for k, v in data["keys"].items()}
    return PartnerRecord(partner_id, perms, keys, data["webhook_url"])
