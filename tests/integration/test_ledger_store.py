"""``ledger_store.balances``: an account's balance is the sum of its ``ledger_balances`` shards, read
for exactly the accounts asked (0 for one with no row), on PostgreSQL and SQLite alike."""

from __future__ import annotations

import pytest
from sqlalchemy import select
from sqlalchemy.exc import OperationalError

from backend.context import Platform
from backend.ledger_store import balances
from backend.settlement.repository import BALANCES, add_balances
from points_engine.ledger import Account
from tests.conftest import BACKEND

pytestmark = pytest.mark.integration

ISSUANCE = "issuance:shantou"  # sharded by settlement partition
MERCHANT = Account.merchant("m_tea")


async def _book(platform: Platform, deltas: dict[tuple[str, int], int]) -> None:
    async with platform.db.transaction() as tx:
        await add_balances(tx.conn, deltas)


class TestBalances:
    async def test_an_accounts_shards_are_summed(self, platform: Platform) -> None:
        await _book(
            platform, {(ISSUANCE, 0): -40, (ISSUANCE, 1): -25, (ISSUANCE, 7): -1, ("issuance:nanao", 0): -9}
        )
        await _book(platform, {(ISSUANCE, 1): -5, (str(MERCHANT), 0): 30, (str(MERCHANT), 3): 12})
        async with platform.db.read() as conn:
            assert await balances(conn, [ISSUANCE, MERCHANT]) == {ISSUANCE: -71, str(MERCHANT): 42}

    async def test_an_account_without_a_row_is_zero_and_every_account_asked_is_answered_in_order(
        self, platform: Platform
    ) -> None:
        alice = Account.available("c_alice")
        await _book(platform, {(str(alice), 0): 120})
        asked = [Account.pending("c_alice"), alice, "citizen:c_nobody:held"]
        async with platform.db.read() as conn:
            found = await balances(conn, asked)
        assert list(found.items()) == [
            ("citizen:c_alice:pending", 0),
            (str(alice), 120),
            ("citizen:c_nobody:held", 0),
        ]

    async def test_no_accounts_asked_is_an_empty_answer(self, platform: Platform) -> None:
        async with platform.db.read() as conn:
            assert await balances(conn, []) == {}

    async def test_a_locked_read_sums_the_same(self, platform: Platform) -> None:
        await _book(platform, {(ISSUANCE, 0): -3, (ISSUANCE, 2): -4, (str(MERCHANT), 0): 7})
        async with platform.db.transaction() as tx:
            found = await balances(tx.conn, [MERCHANT, ISSUANCE, "merchant:m_none"], lock=True)
        assert found == {str(MERCHANT): 7, ISSUANCE: -7, "merchant:m_none": 0}

    @pytest.mark.skipif(BACKEND != "postgres", reason="row locks are PostgreSQL's; SQLite has one writer")
    async def test_a_locked_read_holds_every_shard_row_until_the_transaction_ends(
        self, platform: Platform
    ) -> None:
        await _book(platform, {(ISSUANCE, 0): -3, (ISSUANCE, 2): -4})
        shard_2 = select(BALANCES.c.balance).where(BALANCES.c.account == ISSUANCE, BALANCES.c.shard == 2)
        async with platform.db.transaction() as tx:
            await balances(tx.conn, [ISSUANCE], lock=True)
            async with platform.db.engine.connect() as other:
                with pytest.raises(OperationalError):
                    await other.execute(shard_2.with_for_update(nowait=True))
        async with platform.db.engine.connect() as other:
            assert (await other.execute(shard_2.with_for_update(nowait=True))).scalar_one() == -4
