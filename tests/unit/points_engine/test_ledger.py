"""The points ledger: accounts, builders, invariants, idempotency, balances, two-phase transfers."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from points_engine.errors import EngineError, InvariantViolation
from points_engine.ledger import (
    Account,
    ConflictingTransaction,
    InsufficientBalance,
    InvalidTransaction,
    Journal,
    Ledger,
    LedgerState,
    PendingAlreadyResolved,
    Posting,
    Transaction,
    UnknownOrigin,
    bonus_tx,
    certify_tx,
    expire_tx,
    plan,
    reads,
    reverse_tx,
    settle_tx,
    spend_post_tx,
    spend_reserve_tx,
    spend_void_tx,
    tx_id_for,
    void_tx,
)

EVENT = "p_bus/bus-20261124-000001"


def moves(tx: Transaction) -> list[tuple[str, int]]:
    return [(str(p.account), p.amount) for p in tx.postings]


def readable(ledger: Ledger) -> dict[str, int]:
    return {str(account): balance for account, balance in ledger.balances().items() if balance}


def funded(points: int = 300, citizen: str = "c_1") -> tuple[Ledger, Transaction]:
    """A ledger where ``citizen`` has ``points`` certified (available) points from one settle."""
    ledger = Ledger()
    settled = settle_tx("shantou", citizen, f"{EVENT}-{citizen}", points)
    ledger.apply_many([settled, certify_tx(settled)])
    return ledger, settled


def state_of(ledger: Ledger) -> tuple[dict[Account, int], tuple[Transaction, ...]]:
    return ledger.balances(), ledger.journal


class TestAccounts:
    @pytest.mark.parametrize(
        ("account", "text"),
        [
            (Account.issuance("nanao"), "issuance:nanao"),
            (Account.campaign("cp_spring"), "campaign:cp_spring"),
            (Account.pending("c_1"), "citizen:c_1:pending"),
            (Account.available("c_1"), "citizen:c_1:available"),
            (Account.held("c_1"), "citizen:c_1:held"),
            (Account.merchant("m_tea"), "merchant:m_tea"),
            (Account.expiry("shantou"), "expiry:shantou"),
            (Account.void("shantou"), "void:shantou"),
        ],
    )
    def test_an_account_id_shows_its_kind_and_parses_back(self, account: Account, text: str) -> None:
        assert str(account) == text
        assert Account.parse(text) == account

    @pytest.mark.parametrize("text", ["citizen:c_1", "citizen:c_1:spent", "bank:x", "issuance:guangzhou", ""])
    def test_text_that_is_no_account_id_is_refused(self, text: str) -> None:
        with pytest.raises(InvalidTransaction):
            Account.parse(text)

    @pytest.mark.parametrize("owner", ["", "c:1", "c/1", "c 1", "x" * 65])
    def test_an_owner_id_that_would_make_ids_ambiguous_is_refused(self, owner: str) -> None:
        with pytest.raises(InvalidTransaction):
            Account.available(owner)

    def test_only_issuance_and_campaign_accounts_may_go_negative(self) -> None:
        assert Account.issuance("shantou").may_go_negative
        assert Account.campaign("cp_1").may_go_negative
        for account in (
            Account.pending("c_1"),
            Account.available("c_1"),
            Account.held("c_1"),
            Account.merchant("m_1"),
            Account.expiry("nanao"),
            Account.void("nanao"),
        ):
            assert not account.may_go_negative


class TestBuilders:
    """Each builder's postings, written out: the debit first, then the credit."""

    def test_settle_moves_points_from_the_books_issuance_to_citizen_pending(self) -> None:
        tx = settle_tx("nanao", "c_1", EVENT, 120)
        assert (tx.kind, tx.cause) == ("settle", EVENT)
        assert moves(tx) == [("issuance:nanao", -120), ("citizen:c_1:pending", 120)]

    def test_certify_moves_the_settled_points_from_pending_to_available(self) -> None:
        settled = settle_tx("nanao", "c_1", EVENT, 120)
        tx = certify_tx(settled)
        assert (tx.kind, tx.cause, tx.origin_id) == ("certify", settled.tx_id, settled.tx_id)
        assert moves(tx) == [("citizen:c_1:pending", -120), ("citizen:c_1:available", 120)]

    def test_void_moves_the_settled_points_from_pending_to_the_void_of_their_book(self) -> None:
        settled = settle_tx("nanao", "c_1", EVENT, 120)
        assert moves(void_tx(settled)) == [("citizen:c_1:pending", -120), ("void:nanao", 120)]

    def test_void_of_a_pending_bonus_returns_it_to_its_campaign(self) -> None:
        granted = bonus_tx("cp_1", "c_1", "g_1", 50, pending=True)
        assert moves(void_tx(granted)) == [("citizen:c_1:pending", -50), ("campaign:cp_1", 50)]

    def test_spend_reserve_holds_available_points(self) -> None:
        tx = spend_reserve_tx("c_1", "r_1", 80)
        assert (tx.kind, tx.cause) == ("spend-reserve", "r_1")
        assert moves(tx) == [("citizen:c_1:available", -80), ("citizen:c_1:held", 80)]

    def test_spend_post_pays_the_held_points_to_the_merchant(self) -> None:
        reserved = spend_reserve_tx("c_1", "r_1", 80)
        tx = spend_post_tx(reserved, "m_tea")
        assert (tx.kind, tx.cause) == ("spend-post", reserved.tx_id)
        assert moves(tx) == [("citizen:c_1:held", -80), ("merchant:m_tea", 80)]

    def test_spend_void_releases_the_held_points(self) -> None:
        reserved = spend_reserve_tx("c_1", "r_1", 80)
        assert moves(spend_void_tx(reserved)) == [("citizen:c_1:held", -80), ("citizen:c_1:available", 80)]

    def test_reverse_refunds_a_posted_spend_from_the_merchant(self) -> None:
        posted = spend_post_tx(spend_reserve_tx("c_1", "r_1", 80), "m_tea")
        tx = reverse_tx(posted)
        assert (tx.kind, tx.cause) == ("reverse", posted.tx_id)
        assert moves(tx) == [("merchant:m_tea", -80), ("citizen:c_1:available", 80)]

    def test_expire_moves_available_points_to_the_expiry_of_a_book(self) -> None:
        tx = expire_tx("shantou", "c_1", "2024-11", 30)
        assert (tx.kind, tx.cause) == ("expire", "c_1/2024-11")
        assert moves(tx) == [("citizen:c_1:available", -30), ("expiry:shantou", 30)]

    def test_bonus_moves_campaign_points_to_available_or_pending(self) -> None:
        assert moves(bonus_tx("cp_1", "c_1", "g_1", 50)) == [
            ("campaign:cp_1", -50),
            ("citizen:c_1:available", 50),
        ]
        assert moves(bonus_tx("cp_1", "c_1", "g_2", 50, pending=True)) == [
            ("campaign:cp_1", -50),
            ("citizen:c_1:pending", 50),
        ]
        assert bonus_tx("cp_1", "c_1", "g_1", 50).cause == "cp_1/g_1"

    @pytest.mark.parametrize("points", [0, -5, True, 1.5, "10"])
    def test_points_that_are_not_a_positive_int_are_refused(self, points: Any) -> None:
        with pytest.raises(InvalidTransaction):
            settle_tx("shantou", "c_1", EVENT, points)
        with pytest.raises(InvalidTransaction):
            spend_reserve_tx("c_1", "r_1", points)

    @pytest.mark.parametrize("key", ["", "a b", "tab\there", "x" * 257])
    def test_a_cause_key_that_is_empty_or_has_whitespace_is_refused(self, key: str) -> None:
        with pytest.raises(InvalidTransaction):
            settle_tx("shantou", "c_1", key, 10)

    @pytest.mark.parametrize("citizen", ["", "c:1", "c/1", "c 1", "x" * 65, 7, None, ["c_1"]])
    def test_a_bad_citizen_id_is_refused_however_often_it_comes(self, citizen: Any) -> None:
        for _ in range(2):  # (the pending account of a good id is kept for its next settle)
            with pytest.raises(InvalidTransaction):
                settle_tx("shantou", citizen, EVENT, 10)

    def test_settles_of_one_citizen_share_its_pending_account(self) -> None:
        first, second = settle_tx("shantou", "c_9", "e/1", 10), settle_tx("nanao", "c_9", "e/2", 20)
        assert first.credit.account is second.credit.account
        assert first.credit.account == Account.pending("c_9")

    def test_an_unknown_book_is_refused(self) -> None:
        with pytest.raises(InvalidTransaction):
            settle_tx("guangzhou", "c_1", EVENT, 10)  # type: ignore[arg-type]

    def test_follow_up_builders_refuse_a_transaction_of_the_wrong_kind(self) -> None:
        reserved = spend_reserve_tx("c_1", "r_1", 80)
        with pytest.raises(InvalidTransaction):
            certify_tx(reserved)
        with pytest.raises(InvalidTransaction):
            certify_tx(bonus_tx("cp_1", "c_1", "g_1", 50))  # a bonus to available has nothing pending
        with pytest.raises(InvalidTransaction):
            spend_post_tx(settle_tx("shantou", "c_1", EVENT, 10), "m_1")
        with pytest.raises(InvalidTransaction):
            reverse_tx(reserved)

    def test_the_same_cause_always_gives_the_same_tx_id_and_other_kinds_other_ids(self) -> None:
        first = settle_tx("shantou", "c_1", EVENT, 10)
        assert settle_tx("shantou", "c_1", EVENT, 10).tx_id == first.tx_id
        assert settle_tx("nanao", "c_2", EVENT, 99).tx_id == first.tx_id  # same cause, other content
        assert certify_tx(first).tx_id != first.tx_id
        assert first.tx_id == tx_id_for("settle", EVENT)
        assert first.tx_id.startswith("tx_") and len(first.tx_id) == 35


class TestInvariants:
    """A transaction that breaks an invariant cannot even be constructed."""

    @staticmethod
    def raw(kind: Any, *postings: tuple[Account, Any], cause: str = "k_1") -> Transaction:
        return Transaction.of(kind, cause, [Posting(account, amount) for account, amount in postings])

    def test_postings_that_do_not_sum_to_zero_are_an_invariant_violation(self) -> None:
        with pytest.raises(InvariantViolation, match="sum to 1"):
            self.raw("settle", (Account.issuance("shantou"), -10), (Account.pending("c_1"), 11))

    def test_a_zero_amount_posting_is_an_invariant_violation(self) -> None:
        with pytest.raises(InvariantViolation, match="non-zero"):
            self.raw(
                "settle",
                (Account.issuance("shantou"), -10),
                (Account.pending("c_1"), 10),
                (Account.available("c_1"), 0),
            )

    def test_two_postings_to_one_account_are_an_invariant_violation(self) -> None:
        with pytest.raises(InvariantViolation, match="twice"):
            self.raw("settle", (Account.pending("c_1"), -10), (Account.pending("c_1"), 10))

    def test_a_single_posting_is_an_invariant_violation(self) -> None:
        with pytest.raises(InvariantViolation, match="at least two"):
            self.raw("settle", (Account.issuance("shantou"), -10))

    @pytest.mark.parametrize("amount", [True, 10.0])
    def test_a_posting_amount_that_is_not_an_int_is_an_invariant_violation(self, amount: Any) -> None:
        with pytest.raises(InvariantViolation):
            self.raw("settle", (Account.issuance("shantou"), -1), (Account.pending("c_1"), amount))

    def test_a_tx_id_not_derived_from_the_cause_is_an_invariant_violation(self) -> None:
        good = settle_tx("shantou", "c_1", EVENT, 10)
        with pytest.raises(InvariantViolation, match="derived"):
            Transaction("tx_" + "0" * 32, "settle", good.postings, good.cause)

    def test_a_move_its_kind_does_not_allow_is_an_invariant_violation(self) -> None:
        with pytest.raises(InvariantViolation, match="may not move"):
            self.raw("settle", (Account.issuance("shantou"), -10), (Account.available("c_1"), 10))

    def test_points_moving_between_two_citizens_are_an_invariant_violation(self) -> None:
        with pytest.raises(InvariantViolation, match="transferable"):
            self.raw(
                "spend-void",
                (Account.held("c_1"), -10),
                (Account.available("c_2"), 10),
                cause="tx_" + "a" * 32,
            )

    def test_a_follow_up_whose_cause_is_no_tx_id_is_an_invariant_violation(self) -> None:
        with pytest.raises(InvariantViolation, match="names the tx_id"):
            self.raw("certify", (Account.pending("c_1"), -10), (Account.available("c_1"), 10), cause="ev-1")

    def test_postings_are_kept_debit_first_so_equal_content_compares_equal(self) -> None:
        a = self.raw("settle", (Account.pending("c_1"), 10), (Account.issuance("shantou"), -10))
        assert a == settle_tx("shantou", "c_1", "k_1", 10)
        assert a.debit.amount == -10 and a.credit.amount == 10


class TestApply:
    def test_applying_the_same_transaction_again_returns_false_and_changes_nothing(self) -> None:
        ledger = Ledger()
        settled = settle_tx("shantou", "c_1", EVENT, 120)
        assert ledger.apply(settled) is True
        before = state_of(ledger)
        assert ledger.apply(settle_tx("shantou", "c_1", EVENT, 120)) is False
        assert state_of(ledger) == before
        assert ledger.balance(Account.pending("c_1")) == 120

    def test_the_same_tx_id_with_different_content_is_a_conflict_and_changes_nothing(self) -> None:
        ledger = Ledger()
        ledger.apply(settle_tx("shantou", "c_1", EVENT, 120))
        before = state_of(ledger)
        with pytest.raises(ConflictingTransaction) as caught:
            ledger.apply(settle_tx("shantou", "c_1", EVENT, 121))
        assert caught.value.code == "transaction-conflict"
        assert caught.value.tx_id == tx_id_for("settle", EVENT)
        assert state_of(ledger) == before

    def test_spending_more_than_available_is_refused_and_changes_nothing(self) -> None:
        ledger, _ = funded(100)
        before = state_of(ledger)
        with pytest.raises(InsufficientBalance) as caught:
            ledger.apply(spend_reserve_tx("c_1", "r_1", 101))
        assert caught.value.code == "insufficient-balance"
        assert (caught.value.account, caught.value.balance, caught.value.amount) == (
            Account.available("c_1"),
            100,
            101,
        )
        assert state_of(ledger) == before
        assert ledger.get(spend_reserve_tx("c_1", "r_1", 101).tx_id) is None

    def test_pending_points_cannot_be_spent_or_expired(self) -> None:
        ledger = Ledger()
        ledger.apply(settle_tx("shantou", "c_1", EVENT, 100))
        with pytest.raises(InsufficientBalance):
            ledger.apply(spend_reserve_tx("c_1", "r_1", 1))
        with pytest.raises(InsufficientBalance):
            ledger.apply(expire_tx("shantou", "c_1", "2024-11", 1))

    def test_a_batch_with_one_failing_transaction_changes_nothing(self) -> None:
        ledger, _ = funded(100)
        before = state_of(ledger)
        reserved = spend_reserve_tx("c_1", "r_1", 60)
        batch = [
            settle_tx("shantou", "c_1", "p_bus/ev-2", 40),
            reserved,
            spend_post_tx(reserved, "m_1"),
            spend_reserve_tx("c_1", "r_2", 41),  # 40 available left
        ]
        with pytest.raises(InsufficientBalance):
            ledger.apply_many(batch)
        assert state_of(ledger) == before
        assert ledger.apply_many(batch[:3]) == (True, True, True)

    def test_a_batch_may_hold_a_replay_and_follow_ups_of_its_own_transactions(self) -> None:
        ledger = Ledger()
        settled = settle_tx("nanao", "c_1", EVENT, 100)
        assert ledger.apply_many([settled, settled, certify_tx(settled)]) == (True, False, True)
        assert readable(ledger) == {"issuance:nanao": -100, "citizen:c_1:available": 100}

    def test_a_conflict_inside_one_batch_changes_nothing(self) -> None:
        ledger = Ledger()
        with pytest.raises(ConflictingTransaction):
            ledger.apply_many([settle_tx("nanao", "c_1", EVENT, 100), settle_tx("nanao", "c_1", EVENT, 1)])
        assert ledger.balances() == {} and ledger.journal == ()

    def test_a_full_life_of_points_keeps_every_balance_and_the_zero_sum(self) -> None:
        ledger = Ledger()
        kept, rejected = (
            settle_tx("nanao", "c_1", "p_bus/ev-1", 500),
            settle_tx("shantou", "c_1", "p_bike/ev-9", 70),
        )
        reserved, cancelled = spend_reserve_tx("c_1", "r_1", 200), spend_reserve_tx("c_1", "r_2", 50)
        posted = spend_post_tx(reserved, "m_tea")
        ledger.apply_many([kept, rejected, certify_tx(kept), void_tx(rejected), reserved, cancelled])
        ledger.apply_many([posted, spend_void_tx(cancelled), reverse_tx(posted)])
        ledger.apply_many([expire_tx("nanao", "c_1", "2024-11", 120), bonus_tx("cp_1", "c_1", "g_1", 5)])
        assert readable(ledger) == {
            "issuance:nanao": -500,
            "issuance:shantou": -70,
            "void:shantou": 70,
            "citizen:c_1:available": 385,
            "expiry:nanao": 120,
            "campaign:cp_1": -5,
        }
        assert sum(ledger.balances().values()) == 0
        ledger.check()


class TestTwoPhase:
    """Like TigerBeetle's pending transfers: each is posted or voided once, and only after it exists."""

    def test_certifying_points_that_were_voided_is_refused(self) -> None:
        ledger = Ledger()
        settled = settle_tx("shantou", "c_1", EVENT, 100)
        voided = void_tx(settled)
        ledger.apply_many([settled, voided])
        with pytest.raises(PendingAlreadyResolved) as caught:
            ledger.apply(certify_tx(settled))
        assert (caught.value.pending_id, caught.value.resolved_by) == (settled.tx_id, voided.tx_id)
        assert ledger.resolved_by(settled.tx_id) == voided.tx_id

    def test_certifying_twice_is_a_replay_not_a_second_credit(self) -> None:
        ledger = Ledger()
        settled = settle_tx("shantou", "c_1", EVENT, 100)
        assert ledger.apply_many([settled, certify_tx(settled), certify_tx(settled)]) == (True, True, False)
        assert ledger.balance(Account.available("c_1")) == 100

    def test_a_reservation_is_either_posted_or_voided(self) -> None:
        ledger, _ = funded(100)
        reserved = spend_reserve_tx("c_1", "r_1", 80)
        ledger.apply_many([reserved, spend_post_tx(reserved, "m_1")])
        with pytest.raises(PendingAlreadyResolved):
            ledger.apply(spend_void_tx(reserved))
        with pytest.raises(ConflictingTransaction):  # same reservation, other merchant
            ledger.apply(spend_post_tx(reserved, "m_2"))
        assert ledger.balance(Account.merchant("m_1")) == 80
        assert ledger.balance(Account.available("c_1")) == 20

    def test_a_follow_up_of_a_transaction_never_applied_is_refused(self) -> None:
        ledger, _ = funded(100)
        reserved = spend_reserve_tx("c_1", "r_1", 80)
        with pytest.raises(UnknownOrigin) as caught:
            ledger.apply(spend_post_tx(reserved, "m_1"))
        assert caught.value.code == "unknown-origin"
        assert caught.value.origin_id == reserved.tx_id

    def test_a_spend_is_reversed_once(self) -> None:
        ledger, _ = funded(100)
        reserved = spend_reserve_tx("c_1", "r_1", 80)
        posted = spend_post_tx(reserved, "m_1")
        ledger.apply_many([reserved, posted, reverse_tx(posted)])
        assert ledger.apply(reverse_tx(posted)) is False
        assert ledger.balance(Account.available("c_1")) == 100

    def test_a_hand_built_follow_up_that_does_not_mirror_its_origin_is_an_invariant_violation(self) -> None:
        ledger = Ledger()
        settled = settle_tx("nanao", "c_1", EVENT, 100)
        ledger.apply(settled)
        wrong_book = Transaction.of(
            "void",
            settled.tx_id,
            [Posting(Account.pending("c_1"), -100), Posting(Account.void("shantou"), 100)],
        )
        with pytest.raises(InvariantViolation, match="does not match"):
            ledger.apply(wrong_book)
        assert ledger.journal == (settled,)


class TestCheck:
    def test_check_passes_on_a_consistent_ledger(self) -> None:
        ledger, _ = funded(100)
        ledger.check()

    def test_check_finds_a_balance_that_disagrees_with_the_journal(self) -> None:
        ledger, _ = funded(100)
        ledger._balances[Account.available("c_1")] += 1  # simulate a corrupted store
        with pytest.raises(InvariantViolation, match="postings sum to 100"):
            ledger.check()

    def test_check_finds_a_journal_that_does_not_replay(self) -> None:
        ledger, settled = funded(100)
        ledger.apply(settle_tx("shantou", "c_1", "p_bus/ev-2", 100))
        # Certified and then voided too: balances stay consistent, but apply would never allow it.
        voided = void_tx(settled)
        ledger._journal.append(voided)
        ledger._by_id[voided.tx_id] = voided
        ledger._balances[Account.pending("c_1")] -= 100
        ledger._balances[Account.void("shantou")] = 100
        with pytest.raises(InvariantViolation, match="does not replay"):
            ledger.check()

    def test_check_finds_pending_points_no_open_transfer_accounts_for(self) -> None:
        ledger = Ledger()
        settled = settle_tx("shantou", "c_1", EVENT, 100)
        ledger.apply(settled)
        ledger._resolved_by[settled.tx_id] = "tx_" + "f" * 32
        with pytest.raises(InvariantViolation):
            ledger.check()


class TestPlan:
    def test_plan_reads_only_what_reads_names_and_changes_no_state(self) -> None:
        settled = settle_tx("shantou", "c_1", EVENT, 100)
        certified = certify_tx(settled)
        accounts, ids = reads([certified])
        assert accounts == {Account.pending("c_1"), Account.available("c_1")}
        assert ids == {certified.tx_id, settled.tx_id}
        state = LedgerState({Account.pending("c_1"): 100}, {settled.tx_id: settled}, {})
        effects = plan([certified], state)
        assert effects.fresh == (True,)
        assert effects.balances == {Account.pending("c_1"): 0, Account.available("c_1"): 100}
        assert effects.resolved_by == {settled.tx_id: certified.tx_id}
        assert state.balances == {Account.pending("c_1"): 100} and state.resolved_by == {}


class TestJournalPort:
    def test_the_in_memory_ledger_serves_as_the_journal_port(self) -> None:
        async def scenario(journal: Journal) -> None:
            settled = settle_tx("nanao", "c_1", EVENT, 100)
            assert await journal.append([settled, certify_tx(settled)]) == (True, True)
            assert await journal.append([settled]) == (False,)
            balances = await journal.balances_of([Account.available("c_1"), Account.merchant("m_1")])
            assert balances == {Account.available("c_1"): 100, Account.merchant("m_1"): 0}
            assert await journal.transactions([settled.tx_id, "tx_" + "0" * 32]) == {settled.tx_id: settled}
            with pytest.raises(EngineError):
                await journal.append([spend_reserve_tx("c_1", "r_1", 101)])

        asyncio.run(scenario(Ledger()))
