"""The citizens' rules states in Redis, under ``{c_…}`` keys, stamped with the partition epoch.

A state is trusted only if it carries the epoch of the current lease: one written by an earlier
owner (or by a worker that lost its lease) is rebuilt from the database instead. The database is
the truth; Redis holds the hot copy, and losing it loses nothing.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import orjson
import redis.asyncio as aioredis

from backend.redis import Keys
from points_engine.rules import CitizenState, InvalidRulesState

_TTL_S = 9 * 24 * 3600  # retention (8 days) + a day: an older state is rebuilt if ever needed

# KEYS: state keys; ARGV: epoch, ttl, one value per key. A state stamped with a newer epoch is kept:
# a worker that lost its lease cannot overwrite what the new owner wrote.
_STORE = """
local epoch = tonumber(ARGV[1])
for i, key in ipairs(KEYS) do
  local old = redis.call('GET', key)
  local old_epoch = -1
  if old then old_epoch = tonumber(string.match(old, '^(%d+)|')) or -1 end
  if old_epoch <= epoch then redis.call('SET', key, ARGV[i + 2], 'EX', ARGV[2]) end
end
return #KEYS
"""


class RulesStore:
    def __init__(self, redis: aioredis.Redis, keys: Keys) -> None:
        self._redis, self._keys = redis, keys
        self._store = redis.register_script(_STORE)

    async def load(self, citizen_ids: Sequence[str], epoch: int) -> dict[str, CitizenState]:
        """The trusted states among ``citizen_ids``; the others must be rebuilt."""
        if not citizen_ids:
            return {}
        raw = await self._redis.mget([self._keys.rules_state(c) for c in citizen_ids])
        stamp = b"%d|" % epoch
        states: dict[str, CitizenState] = {}
        for citizen, value in zip(citizen_ids, raw, strict=True):
            if value is None or not value.startswith(stamp):
                continue
            try:
                states[citizen] = CitizenState.from_json(orjson.loads(value[len(stamp) :]))
            except (orjson.JSONDecodeError, InvalidRulesState):
                continue  # unreadable: rebuilt like a missing one
        return states

    async def store(self, states: Mapping[str, CitizenState], epoch: int) -> None:
        if not states:
            return
        keys = [self._keys.rules_state(c) for c in states]
        stamp = b"%d|" % epoch
        values = [stamp + orjson.dumps(s.to_json()) for s in states.values()]
        await self._store(keys=keys, args=[epoch, _TTL_S, *values])
