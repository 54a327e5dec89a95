"""Registry accounts: the platform's own are there from the first write, buyers are opened by
admins, and each account shows what it holds per book."""

from __future__ import annotations

import pytest

from backend import audit
from backend.errors import AccountExists, InvalidRequest
from backend.registry import create_buyer, list_accounts, retire, transfer
from tests.integration.registry.factories import issue_run, snapshot


class TestCreateBuyer:
    async def test_a_buyer_may_hold_any_book_and_its_creation_is_audited(self, platform):
        account = await create_buyer(platform.db, "acme-corp", "Acme 汕头", actor="op_admin")

        assert (account.account_id, account.kind, account.book, account.holdings) == (
            "acme-corp",
            "buyer",
            None,
            [],
        )
        event = (await audit.page(platform.db, 0, 100))[-1].event
        assert (event.action, event.subject, event.details) == (
            "registry.account-created",
            "account:acme-corp",
            {"kind": "buyer", "name": "Acme 汕头"},
        )

    @pytest.mark.parametrize("taken", ["acme-corp", "shantou", "nanao", "nanao-pilot"])
    async def test_an_id_taken_already_is_a_conflict_even_before_any_run(self, platform, taken):
        await create_buyer(platform.db, "acme-corp", "Acme", actor="op_admin")
        before = await snapshot(platform)
        with pytest.raises(AccountExists):
            await create_buyer(platform.db, taken, "Someone else", actor="op_admin")
        assert await snapshot(platform) == before

    @pytest.mark.parametrize(
        ("account_id", "name"),
        [
            ("ab", "n"),
            ("-acme", "n"),
            ("Acme", "n"),
            ("acme_corp", "n"),
            ("a" * 41, "n"),
            ("acme", ""),
            ("acme", "a\tb"),
        ],
    )
    async def test_a_malformed_id_or_name_is_refused(self, platform, account_id, name):
        with pytest.raises(InvalidRequest):
            await create_buyer(platform.db, account_id, name, actor="op_admin")
        assert (await snapshot(platform))["accounts"] == []


async def test_each_account_shows_its_active_and_retired_tonnes_per_book(platform):
    nanao = await issue_run(platform, tonnes=10)
    shantou = await issue_run(platform, book="shantou", tonnes=4)
    await create_buyer(platform.db, "acme-corp", "Acme", actor="op_admin")
    await transfer(platform.db, nanao.serial, "acme-corp", "op_admin", first=1, last=3)
    await transfer(platform.db, shantou.serial, "acme-corp", "op_admin")
    await retire(platform.db, shantou.serial, "Acme", "2026 travel", "op_admin", first=1, last=1)

    accounts = {a.account_id: a for a in await list_accounts(platform.db)}

    assert list(accounts) == ["acme-corp", "nanao", "nanao-pilot", "shantou"]
    assert [h.model_dump() for h in accounts["acme-corp"].holdings] == [
        {"book": "nanao", "active_t": 3, "retired_t": 0},
        {"book": "shantou", "active_t": 3, "retired_t": 1},
    ]
    assert [h.model_dump() for h in accounts["nanao"].holdings] == [
        {"book": "nanao", "active_t": 7, "retired_t": 0}
    ]
    assert accounts["shantou"].holdings == [] and accounts["nanao-pilot"].holdings == []
    assert (accounts["nanao-pilot"].kind, accounts["nanao-pilot"].book) == ("pilot", "nanao")
