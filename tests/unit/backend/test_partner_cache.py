"""backend.auth.partners: each process keeps the partners it has read, and trusts its copy only
through the nonce claim, which checks it against the partner's generation in Redis.

"Another process" is a second PartnerDirectory on the same Redis and database: what a process
keeps is its directory's own memory.
"""

from __future__ import annotations

import orjson
import pytest

from backend.admin_api import partners as partner_admin
from backend.auth.partners import Claim, PartnerDirectory
from backend.context import Platform
from partners.sdk import Credentials
from tests.factories import make_partner

NONCE = "n0nce0000000000000001"
TTL_S = 600


def another_process(platform: Platform) -> PartnerDirectory:
    return PartnerDirectory(platform.db, platform.redis, platform.hot, platform.keys, platform.box)


@pytest.fixture
async def creds(platform: Platform) -> Credentials:
    return await make_partner(platform)


class TestClaimNonce:
    async def test_a_nonce_is_claimed_once_then_replayed(self, platform, creds):
        known = await platform.partners.read(creds.partner_id)
        assert await platform.partners.claim_nonce(known, NONCE, TTL_S) is Claim.FRESH
        assert await platform.partners.claim_nonce(known, NONCE, TTL_S) is Claim.REPLAYED

    async def test_the_claimed_nonce_expires_after_its_ttl(self, platform, creds):
        known = await platform.partners.read(creds.partner_id)
        await platform.partners.claim_nonce(known, NONCE, TTL_S)
        ttl = await platform.redis.ttl(platform.keys.nonce(creds.partner_id, NONCE))
        assert 0 < ttl <= TTL_S

    async def test_a_change_made_by_another_process_makes_the_copy_stale_and_records_nothing(
        self, platform, creds
    ):
        # given
        known = await platform.partners.read(creds.partner_id)
        # when
        await another_process(platform).invalidate(creds.partner_id)
        # then
        assert await platform.partners.claim_nonce(known, NONCE, TTL_S) is Claim.STALE
        assert platform.partners.remembered(creds.partner_id) is None
        current = await platform.partners.read(creds.partner_id)
        assert await platform.partners.claim_nonce(current, NONCE, TTL_S) is Claim.FRESH

    async def test_a_key_revoked_by_another_process_is_seen_at_the_next_claim(self, platform, creds):
        """The revocation commits in one process; another process still holds the active key."""
        # given
        elsewhere = another_process(platform)
        known = await elsewhere.read(creds.partner_id)
        assert known is not None and known.record.keys["k1"][1] == "active"
        # when
        await partner_admin.revoke_key(platform, creds.partner_id, "k1")
        # then
        assert await elsewhere.claim_nonce(known, NONCE, TTL_S) is Claim.STALE
        current = await elsewhere.read(creds.partner_id)
        assert current is not None and current.record.keys["k1"][1] == "revoked"

    async def test_an_unchecked_claim_ignores_the_generation_but_not_a_replay(self, platform, creds):
        await platform.partners.invalidate(creds.partner_id)
        claim = platform.partners.claim_nonce_unchecked
        assert await claim(creds.partner_id, NONCE, TTL_S) is Claim.FRESH
        assert await claim(creds.partner_id, NONCE, TTL_S) is Claim.REPLAYED


class TestGeneration:
    async def test_a_generation_lost_with_redis_never_matches_a_copy_read_before(self, platform, creds):
        """A FLUSHALL or a failover without the data: a counter would start again at a value some
        process has cached; the generation is random instead, and an absent one matches nothing."""
        # given
        known = await platform.partners.read(creds.partner_id)
        # when
        await platform.redis.delete(
            platform.keys.partner_generation(creds.partner_id), platform.keys.partner(creds.partner_id)
        )
        # then
        assert await platform.partners.claim_nonce(known, NONCE, TTL_S) is Claim.STALE
        again = await platform.partners.read(creds.partner_id)
        assert again is not None and again.generation != known.generation
        assert await platform.partners.claim_nonce(again, NONCE, TTL_S) is Claim.FRESH

    async def test_a_cached_record_without_its_generation_is_not_trusted(self, platform, creds):
        """A cache entry that outlived its generation (an eviction) is read again from the database."""
        # given
        forged = {"types": [], "regions": [], "keys": {"k1": ["v1:x", "revoked"]}, "webhook_url": None}
        await platform.redis.delete(platform.keys.partner_generation(creds.partner_id))
        await platform.redis.set(platform.keys.partner(creds.partner_id), orjson.dumps(forged))
        # when
        known = await platform.partners.read(creds.partner_id)
        # then
        assert known is not None and known.record.keys["k1"][1] == "active"

    async def test_every_change_draws_a_new_generation(self, platform, creds):
        seen = set()
        for _ in range(3):
            await platform.partners.invalidate(creds.partner_id)
            known = await platform.partners.read(creds.partner_id)
            assert known is not None
            seen.add(known.generation)
        assert len(seen) == 3


class TestRemembered:
    async def test_a_read_partner_is_remembered_with_its_opened_secret(self, platform, creds):
        known = await platform.partners.read(creds.partner_id)
        assert known is not None and platform.partners.remembered(creds.partner_id) is known
        assert platform.partners.secret(known, "k1") == creds.secret
        assert known.opened == {"k1": creds.secret}

    async def test_a_copy_older_than_the_remembering_time_is_read_again(self, platform, creds, monkeypatch):
        await platform.partners.read(creds.partner_id)
        monkeypatch.setattr(platform.partners, "remember_s", 0.0)
        assert platform.partners.remembered(creds.partner_id) is None

    async def test_an_unknown_partner_is_neither_found_nor_remembered(self, platform):
        assert await platform.partners.read("nobody_here") is None
        assert platform.partners.remembered("nobody_here") is None

    async def test_a_change_in_this_process_forgets_the_copy_at_once(self, platform, creds):
        await platform.partners.read(creds.partner_id)
        await partner_admin.rotate_key(platform, creds.partner_id)
        assert platform.partners.remembered(creds.partner_id) is None
        known = await platform.partners.read(creds.partner_id)
        assert known is not None and set(known.record.keys) == {"k1", "k2"}
