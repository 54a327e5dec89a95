"""Single actions sent at the same moment: on PostgreSQL they share statements and pipelines (group
commit), and every request must still get exactly the answer it would get alone."""

from __future__ import annotations

import asyncio
from collections import Counter

import orjson
import pytest
from sqlalchemy import func, select

from backend.models import AcceptedAction
from tests.factories import make_partner, mobile, sdk, trip


async def count_actions(platform) -> int:  # type: ignore[no-untyped-def]
    async with platform.db.read() as conn:
        return int((await conn.execute(select(func.count()).select_from(AcceptedAction))).scalar_one())


async def published_event_ids(platform) -> list[str]:  # type: ignore[no-untyped-def]
    ids: list[str] = []
    for partition in range(platform.settings.settle_partitions):
        for _, fields in await platform.redis.xrange(platform.keys.stream(partition)):
            ids.extend(record[1] for record in orjson.loads(fields[b"a"]))
    return ids


@pytest.fixture
async def clients(platform, app):  # type: ignore[no-untyped-def]
    transit = await make_partner(platform, "transit_st")
    bikes = await make_partner(platform, "bike_st")
    async with sdk(app, transit) as a, sdk(app, bikes) as b:
        await a.bind("u1", mobile(1))
        await b.bind("u2", mobile(2))
        yield a, b


class TestConcurrentSingleActions:
    async def test_concurrent_single_actions_of_two_partners_are_each_accepted_stored_and_published(
        self, clients, platform
    ):
        a, b = clients
        sends = [
            client.report([trip(user=user)]) for _ in range(20) for client, user in ((a, "u1"), (b, "u2"))
        ]
        results = await asyncio.gather(*sends)
        assert [r.accepted for r in results] == [1] * 40
        assert await count_actions(platform) == 40
        published = await published_event_ids(platform)
        assert sorted(published) == sorted(r.results[0].event_id for r in results)

    async def test_the_same_action_sent_concurrently_is_accepted_once_and_a_duplicate_otherwise(
        self, clients, platform
    ):
        a, _ = clients
        action = trip(user="u1")
        results = await asyncio.gather(*(a.report([action]) for _ in range(20)))
        assert Counter(r.results[0].status for r in results) == {"accepted": 1, "duplicate": 19}
        assert await count_actions(platform) == 1
        assert await published_event_ids(platform) == [action["event_id"]]

    async def test_concurrent_contents_of_one_event_id_accept_one_and_conflict_the_rest(
        self, clients, platform
    ):
        a, _ = clients
        first = trip(user="u1")
        variants = [{**first, "data": {**first["data"], "distance_m": 1000 + n}} for n in range(20)]
        results = await asyncio.gather(*(a.report([v]) for v in variants))
        statuses = Counter(r.results[0].status for r in results)
        assert statuses == {"accepted": 1, "rejected": 19}
        problems = {r.results[0].problem["type"].rsplit("/", 1)[-1] for r in results if r.rejected}
        assert problems == {"event-conflict"}
        assert await count_actions(platform) == 1

    async def test_batches_sent_together_are_judged_as_if_each_was_alone(self, clients, platform):
        """A repeat inside one batch, an unbound user and a partner's second user in the same moment."""
        a, b = clients
        # given
        repeated = trip(user="u1")
        # when
        with_repeat, unbound, other = await asyncio.gather(
            a.report([repeated, repeated]),
            a.report([trip(user="nobody")]),
            b.report([trip(user="u2", event_id=repeated["event_id"])]),  # same id, other partner
        )
        # then
        assert [r.status for r in with_repeat.results] == ["accepted", "duplicate"]
        assert unbound.results[0].problem["type"].endswith("/unbound-user")
        assert other.accepted == 1
        assert await count_actions(platform) == 2
