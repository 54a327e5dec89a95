"""Who a partner is and which keys it signs with: kept by each process, checked against Redis.

Redis holds, per partner (``{p_…}``), a cache of the record (sealed secrets only) and a
*generation*: a random value replaced on every change to the partner, when the cache is dropped
too. A process keeps the records it has read, tagged with the generation they were read at,
and trusts one only through ``claim_nonce``: one script that records a request's nonce only if
the generation is still that one. So a revoked key fails at once on every process, and a warm
request costs one round trip to Redis.

The generation is random rather than a counter so that it cannot come back: after a FLUSHALL a
counter would restart at a value some process has cached. An absent generation matches nothing;
a reader creates one before reading the database, and refills the cache only if the generation
it saw is still current, so a read that raced with a revocation cannot put the revoked key back.
A lost cache is rebuilt from the database on the next read.
"""

from __future__ import annotations

import enum
import secrets
import time
from dataclasses import dataclass, field

import orjson
import redis.asyncio as aioredis
from sqlalchemy import select

from backend.crypto import SecretBox
from backend.db import Database
from backend.models import Partner, PartnerKey
from backend.redis import Keys
from backend.redis_hot import HotRedis, Script
from points_engine.intake import Permissions

_CACHE_TTL_S = 300
# A process reads its partners again at least this often: a change whose invalidation was lost (a
# crash between its commit and ``invalidate``) is then seen within minutes, as the cache's TTL sees to.
_REMEMBER_S = 60.0

# KEYS: generation, cache; ARGV: a new generation. The current generation (created if there is
# none, when the cache cannot be trusted: it is dropped) and the cached record, read together.
_READ = Script(
    """
local generation = redis.call('GET', KEYS[1])
if not generation then
  redis.call('SET', KEYS[1], ARGV[1])
  redis.call('DEL', KEYS[2])
  return {ARGV[1], false}
end
return {generation, redis.call('GET', KEYS[2])}
"""
)
# KEYS: generation, cache; ARGV: generation seen before the database read, record, ttl.
_FILL_IF_CURRENT = Script(
    """
if redis.call('GET', KEYS[1]) == ARGV[1] then
  redis.call('SET', KEYS[2], ARGV[2], 'EX', ARGV[3])
end
return 0
"""
)
# KEYS: generation, nonce; ARGV: the generation the caller's record was read at, nonce ttl.
_CLAIM = Script(
    """
if redis.call('GET', KEYS[1]) ~= ARGV[1] then
  return -1
end
if redis.call('SET', KEYS[2], '1', 'NX', 'EX', ARGV[2]) then
  return 1
end
return 0
"""
)


class Claim(enum.IntEnum):
    FRESH = 1  # the nonce is now recorded, and the record was current when it was
    REPLAYED = 0  # the nonce was recorded before
    STALE = -1  # the partner changed since the record was read: nothing recorded


@dataclass(frozen=True, slots=True)
class PartnerRecord:
    partner_id: str
    permissions: Permissions
    keys: dict[str, tuple[str, str]]  # key_id -> (sealed secret, status)
    webhook_url: str | None


@dataclass(slots=True)
class KnownPartner:
    """A partner's record as this process read it, at a generation."""

    record: PartnerRecord
    generation: bytes
    read_at: float  # time.monotonic()
    opened: dict[str, str] = field(default_factory=dict)  # key_id -> secret: AES-GCM once per process


class PartnerDirectory:
    remember_s = _REMEMBER_S

    def __init__(
        self, db: Database, redis: aioredis.Redis, hot: HotRedis, keys: Keys, box: SecretBox
    ) -> None:
        self._db, self._redis, self._hot, self._keys, self._box = db, redis, hot, keys, box
        self._known: dict[str, KnownPartner] = {}  # partners that exist, one entry each

    async def lookup(self, partner_id: str) -> PartnerRecord | None:
        """The partner as it is now (None if there is no such partner)."""
        known = await self.read(partner_id)
        return known.record if known else None

    def remembered(self, partner_id: str) -> KnownPartner | None:
        """What this process read of the partner lately, perhaps out of date: see ``claim_nonce``."""
        known = self._known.get(partner_id)
        if known is None or time.monotonic() - known.read_at > self.remember_s:
            return None
        return known

    async def read(self, partner_id: str) -> KnownPartner | None:
        """The partner as it is now, through the Redis cache; remembered by this process."""
        generation_key, cache_key = self._keys.partner_generation(partner_id), self._keys.partner(partner_id)
        generation, cached = await self._hot.script(_READ, (generation_key, cache_key), (_new_generation(),))
        if cached is not None:
            record: PartnerRecord | None = _decode(partner_id, cached)
        else:
            record = await self._load(partner_id)
            if record is not None:
                await self._hot.script(
                    _FILL_IF_CURRENT, (generation_key, cache_key), (generation, _encode(record), _CACHE_TTL_S)
                )
        if record is None:
            self._known.pop(partner_id, None)
            return None
        # Tagged with the generation seen before the database read: if a change landed since, the
        # tag is out of date already, and the first claim finds it so.
        known = self._known[partner_id] = KnownPartner(record, generation, time.monotonic())
        return known

    def secret(self, known: KnownPartner, key_id: str) -> str:
        """The plain secret of one of the partner's keys (which must be in its record)."""
        secret = known.opened.get(key_id)
        if secret is None:
            sealed, context = known.record.keys[key_id][0], f"partner-key:{known.record.partner_id}:{key_id}"
            secret = known.opened[key_id] = self._box.open(sealed, context)
        return secret

    async def claim_nonce(self, known: KnownPartner, nonce: str, ttl_s: int) -> Claim:
        """Record ``nonce`` for ``ttl_s`` if ``known`` is still the partner's current record."""
        partner_id = known.record.partner_id
        keys = (self._keys.partner_generation(partner_id), self._keys.nonce(partner_id, nonce))
        claim = Claim(await self._hot.script(_CLAIM, keys, (known.generation, ttl_s)))
        if claim is Claim.STALE and self._known.get(partner_id) is known:
            del self._known[partner_id]
        return claim

    async def claim_nonce_unchecked(self, partner_id: str, nonce: str, ttl_s: int) -> Claim:
        """Record ``nonce`` whatever the partner's generation."""
        key = self._keys.nonce(partner_id, nonce)
        fresh = await self._hot.execute("SET", key, b"1", "NX", "EX", ttl_s)
        return Claim.FRESH if fresh else Claim.REPLAYED

    async def invalidate(self, partner_id: str) -> None:
        """After a change to the partner is committed: every process reads it anew."""
        self._known.pop(partner_id, None)
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.set(self._keys.partner_generation(partner_id), _new_generation())
            pipe.delete(self._keys.partner(partner_id))
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


def _new_generation() -> bytes:
    # Digits: a process of the release before this one INCRs the generation on a change, which
    # still yields a value nobody has read.
    return str(secrets.randbits(62)).encode()


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
