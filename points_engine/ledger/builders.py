"""One builder per transaction kind: validated arguments in, a valid ``Transaction`` out.

Causes are chosen so that one business event is one transaction: settling event E is
always the same tx_id, and certifying it is always the same (other) tx_id. Follow-ups
take the transaction they follow and name its tx_id as their cause.
"""

from __future__ import annotations

from functools import lru_cache

from points_engine.ledger.accounts import Account
from points_engine.ledger.errors import InvalidTransaction
from points_engine.ledger.transactions import Posting, Transaction, TxKind, built_move, is_key
from points_engine.regions import BOOKS, Book

_ISSUANCE = {book: Account.issuance(book) for book in BOOKS}


# A citizen settles several actions a batch and is seen again in later batches; building and
# checking its pending account took ~5 % of a worker's time (py-spy, a 300,000-action bench run).
# Accounts are immutable values, so one may serve every transaction of the citizen. Bounded: a
# worker sees the whole city over time.
@lru_cache(maxsize=16_384)
def _pending(citizen_id: str) -> Account:
    return Account.pending(citizen_id)


def settle_tx(book: Book, citizen_id: str, event_key: str, points: int) -> Transaction:
    """Points of a settled action, pending certification: ``issuance:{book}`` → citizen pending.

    One per settled action, so built without the second check (``built_move``): the arguments are
    validated as for every builder, and the move is a settle's by construction."""
    cause = _key(event_key)  # checks in _move's order, so bad arguments raise the same error
    source = _ISSUANCE[book] if book in BOOKS else Account.issuance(book)  # which raises
    target = _pending(citizen_id) if type(citizen_id) is str else Account.pending(citizen_id)
    _check_points("settle", points)
    return built_move("settle", cause, Posting(source, -points), Posting(target, points))


def certify_tx(pending: Transaction) -> Transaction:
    """Certification accepted a pending settle (or bonus): citizen pending → available."""
    source = _pending_points(pending, "certify")
    return _move("certify", pending.tx_id, source, Account.available(_citizen(source)), pending.amount)


def certify_run_tx(run_id: str, citizen_id: str, points: int) -> Transaction:
    """A certification run certified ``points`` of the citizen's pending points: pending → available."""
    return _move(
        "certify-run",
        f"{_key(run_id)}/{citizen_id}",
        Account.pending(citizen_id),
        Account.available(citizen_id),
        points,
    )


def void_tx(pending: Transaction) -> Transaction:
    """A later check rejected pending points: → ``void:{book}`` (a pending bonus: back to its campaign)."""
    source = _pending_points(pending, "void")
    origin = pending.debit.account
    target = Account.void(_book(origin)) if pending.kind == "settle" else origin
    return _move("void", pending.tx_id, source, target, pending.amount)


def spend_reserve_tx(citizen_id: str, redemption_id: str, points: int) -> Transaction:
    """Reserve points for a redemption (first phase): citizen available → held."""
    return _move(
        "spend-reserve", _key(redemption_id), Account.available(citizen_id), Account.held(citizen_id), points
    )


def spend_post_tx(reserved: Transaction, merchant_id: str) -> Transaction:
    """The redemption went through (second phase): citizen held → ``merchant:{merchant_id}``."""
    held = _follows(reserved, "spend-reserve", "spend-post").credit.account
    return _move("spend-post", reserved.tx_id, held, Account.merchant(merchant_id), reserved.amount)


def spend_void_tx(reserved: Transaction) -> Transaction:
    """The redemption failed or was cancelled before posting: citizen held → available."""
    held = _follows(reserved, "spend-reserve", "spend-void").credit.account
    return _move("spend-void", reserved.tx_id, held, Account.available(_citizen(held)), reserved.amount)


def reverse_tx(posted: Transaction) -> Transaction:
    """Refund a posted spend in full, once: merchant → the citizen's available."""
    spend = _follows(posted, "spend-post", "reverse")
    citizen = _citizen(spend.debit.account)
    return _move("reverse", posted.tx_id, spend.credit.account, Account.available(citizen), posted.amount)


def expire_tx(book: Book, citizen_id: str, expiry_key: str, points: int) -> Transaction:
    """Available points past their validity (the caller picks them, oldest first): → ``expiry:{book}``."""
    source = Account.available(citizen_id)
    cause = f"{citizen_id}/{_key(expiry_key)}"
    return _move("expire", cause, source, Account.expiry(book), points)


def bonus_tx(
    campaign_id: str, citizen_id: str, grant_key: str, points: int, *, pending: bool = False
) -> Transaction:
    """Bonus points from a campaign budget: ``campaign:{id}`` → citizen available (or pending)."""
    source = Account.campaign(campaign_id)
    target = Account.pending(citizen_id) if pending else Account.available(citizen_id)
    return _move("bonus", f"{campaign_id}/{_key(grant_key)}", source, target, points)


def _move(kind: TxKind, cause: str, source: Account, target: Account, points: int) -> Transaction:
    _check_points(kind, points)
    return Transaction.of(kind, cause, (Posting(source, -points), Posting(target, points)))


def _check_points(kind: TxKind, points: int) -> None:
    if type(points) is not int or points <= 0:
        raise InvalidTransaction(f"{kind}: points must be a positive int, not {points!r}")


def _key(value: str) -> str:
    if not is_key(value):
        raise InvalidTransaction(f"bad key {value!r}: 1-256 printable characters, no whitespace")
    return value


def _follows(origin: Transaction, kind: TxKind, follow_up: TxKind) -> Transaction:
    if not isinstance(origin, Transaction) or origin.kind != kind:
        raise InvalidTransaction(f"a {follow_up} follows a {kind} transaction, not {origin!r}")
    return origin


def _pending_points(pending: Transaction, follow_up: TxKind) -> Account:
    if not isinstance(pending, Transaction) or pending.credit.account.kind != "citizen-pending":
        raise InvalidTransaction(f"a {follow_up} follows points booked to pending, not {pending!r}")
    return pending.credit.account


def _citizen(account: Account) -> str:
    citizen = account.citizen_id
    if citizen is None:  # unreachable for a valid transaction: SHAPES puts a citizen there
        raise InvalidTransaction(f"{account} is not a citizen's account")
    return citizen


def _book(account: Account) -> Book:
    book = account.book
    if book is None:  # unreachable for a valid settle: SHAPES puts issuance:{book} there
        raise InvalidTransaction(f"{account} is not a book's account")
    return book
