"""The citizens' rules states in Redis, under ``{c_…}`` keys, stamped with the partition epoch.

A state is trusted only if it carries the epoch of the current lease: one written by an earlier
owner (or by a worker that lost its lease) is rebuilt from the database instead. The database is
the truth; Redis holds the hot copy, and losing it loses nothing.

Values are ``<epoch>|`` and the packed state (``rules.compact``); a JSON state (``{…}``, what
workers wrote before) is still read, so states already in Redis survive an upgrade.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

import orjson

from backend.redis import Keys
from backend.redis_hot import HotRedis, Script
from points_engine.rules import CitizenState, InvalidRulesState
from points_engine.rules.compact import pack, unpack

_TTL_S = 9 * 24 * 3600  # retention (8 days) + a day: an older state is rebuilt if ever needed

# KEYS: state keys; ARGV: epoch, ttl, one value per key. A state stamped with a newer epoch is kept:
# a worker that lost its lease cannot overwrite what the new owner wrote.
_STORE = Script(
    """
local epoch = tonumber(ARGV[1])
for i, key in ipairs(KEYS) do
  local old = redis.call('GET', key)
  local old_epoch = -1
  if old then old_epoch = tonumber(string.match(old, '^(%d+)|')) or -1 end
  if old_epoch <= epoch then redis.call('SET', key, ARGV[i + 2], 'EX', ARGV[2]) end
end
return #KEYS
"""
)


class RulesStore:
    def __init__(self, redis: HotRedis, keys: Keys) -> None:
        self._redis, self._keys = redis, keys

    async def load(self, citizen_ids: Sequence[str], epoch: int) -> dict[str, CitizenState]:
        """The trusted states among ``citizen_ids``; the others must be rebuilt."""
        if not citizen_ids:
            return {}
        raw = await self._redis.execute("MGET", *[self._keys.rules_state(c) for c in citizen_ids])
        return decode_states(citizen_ids, raw, epoch)

    async def store(self, states: Mapping[str, CitizenState], epoch: int) -> None:
        if not states:
            return
        keys = [self._keys.rules_state(c) for c in states]
        await self._redis.script(_STORE, keys, [epoch, _TTL_S, *encode_states(states.values(), epoch)])


def decode_states(
    citizen_ids: Sequence[str], values: Sequence[bytes | None], epoch: int
) -> dict[str, CitizenState]:
    """The states among ``values`` (one per citizen, None if absent) stamped with ``epoch`` and readable."""
    stamp = b"%d|" % epoch
    start = len(stamp)
    states: dict[str, CitizenState] = {}
    for citizen, value in zip(citizen_ids, values, strict=True):
        if value is None or not value.startswith(stamp):
            continue
        try:
            if value[start : start + 1] == b"{":
                states[citizen] = CitizenState.from_json(orjson.loads(value[start:]))
            else:
                states[citizen] = unpack(value[start:])
        except (orjson.JSONDecodeError, InvalidRulesState):
            continue  # unreadable: rebuilt like a missing one
    return states


def encode_states(states: Iterable[CitizenState], epoch: int) -> list[bytes]:
    """The values to store for ``states``, stamped with ``epoch``."""
    stamp = b"%d|" % epoch
    return [stamp + _encoded(s) for s in states]


def _encoded(state: CitizenState) -> bytes:
    try:
        return pack(state)
    except OverflowError:  # a quantity beyond 64 bits (intake never lets one through): JSON holds it
        return orjson.dumps(state.to_json())
