"""Ledger accounts: typed ids whose kind is visible (``citizen:c_1:available``) and balance rules.

Sign convention: a posting adds its amount to its account's balance, and a transaction
moving ``n`` points from account A to account B is ``(A, -n), (B, +n)``. So holders
(citizens, merchants) and sinks (expiry, void) have positive balances, the sources
(issuance, campaign) go negative by what they have given out, and all balances sum to zero.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Literal, TypeAlias

from points_engine.frozen import fast_init
from points_engine.ledger.errors import InvalidTransaction
from points_engine.regions import BOOKS, Book

AccountKind: TypeAlias = Literal[
    "issuance",
    "campaign",
    "citizen-pending",
    "citizen-available",
    "citizen-held",
    "merchant",
    "expiry",
    "void",
]
ACCOUNT_KINDS: tuple[AccountKind, ...] = (
    "issuance",
    "campaign",
    "citizen-pending",
    "citizen-available",
    "citizen-held",
    "merchant",
    "expiry",
    "void",
)

# Sources may go negative: their balance is minus what they have issued. Every other account never.
SOURCE_KINDS: frozenset[AccountKind] = frozenset({"issuance", "campaign"})
# Two-phase accounts: each point in them belongs to one open pending transfer (settle, reservation).
TWO_PHASE_KINDS: frozenset[AccountKind] = frozenset({"citizen-pending", "citizen-held"})
BOOK_KINDS: frozenset[AccountKind] = frozenset({"issuance", "expiry", "void"})
CITIZEN_KINDS: frozenset[AccountKind] = frozenset({"citizen-pending", "citizen-available", "citizen-held"})

_CITIZEN_STATES: dict[str, AccountKind] = {
    "pending": "citizen-pending",
    "available": "citizen-available",
    "held": "citizen-held",
}
_PLAIN_KINDS: dict[str, AccountKind] = {kind: kind for kind in ACCOUNT_KINDS if kind not in CITIZEN_KINDS}

# Owner ids (citizen, merchant, campaign): no ':' or '/', so account ids and causes parse one way.
_OWNER = re.compile(r"[A-Za-z0-9._-]{1,64}")


@fast_init
@dataclass(frozen=True, slots=True, order=True)
class Account:
    """One account: its kind and its owner (a book, a campaign, a citizen or a merchant id)."""

    kind: AccountKind
    owner: str
    # The id, rendered once: every posting written is rendered (COPY rows, balance keys), some twice.
    _id: str = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if self.kind not in ACCOUNT_KINDS:
            raise InvalidTransaction(f"unknown account kind {self.kind!r}")
        if self.kind in BOOK_KINDS:
            if self.owner not in BOOKS:
                raise InvalidTransaction(f"unknown book {self.owner!r} (books: {', '.join(BOOKS)})")
        elif not isinstance(self.owner, str) or not _OWNER.fullmatch(self.owner):
            raise InvalidTransaction(f"bad {self.kind} owner id {self.owner!r}: 1-64 of [A-Za-z0-9._-]")
        if self.kind in CITIZEN_KINDS:
            object.__setattr__(self, "_id", f"citizen:{self.owner}:{self.kind.removeprefix('citizen-')}")
        else:
            object.__setattr__(self, "_id", f"{self.kind}:{self.owner}")

    @classmethod
    def issuance(cls, book: Book) -> Account:
        return cls("issuance", book)

    @classmethod
    def campaign(cls, campaign_id: str) -> Account:
        return cls("campaign", campaign_id)

    @classmethod
    def pending(cls, citizen_id: str) -> Account:
        return cls("citizen-pending", citizen_id)

    @classmethod
    def available(cls, citizen_id: str) -> Account:
        return cls("citizen-available", citizen_id)

    @classmethod
    def held(cls, citizen_id: str) -> Account:
        return cls("citizen-held", citizen_id)

    @classmethod
    def merchant(cls, merchant_id: str) -> Account:
        return cls("merchant", merchant_id)

    @classmethod
    def expiry(cls, book: Book) -> Account:
        return cls("expiry", book)

    @classmethod
    def void(cls, book: Book) -> Account:
        return cls("void", book)

    @classmethod
    def parse(cls, account_id: str) -> Account:
        """The account of an id as rendered by ``str()``; ``InvalidTransaction`` if none is."""
        parts = account_id.split(":")
        if len(parts) == 3 and parts[0] == "citizen" and parts[2] in _CITIZEN_STATES:
            return cls(_CITIZEN_STATES[parts[2]], parts[1])
        if len(parts) == 2 and parts[0] in _PLAIN_KINDS:
            return cls(_PLAIN_KINDS[parts[0]], parts[1])
        raise InvalidTransaction(f"not an account id: {account_id!r}")

    @property
    def may_go_negative(self) -> bool:
        return self.kind in SOURCE_KINDS

    @property
    def is_two_phase(self) -> bool:
        return self.kind in TWO_PHASE_KINDS

    @property
    def book(self) -> Book | None:
        """The book of an issuance, expiry or void account; None for the others."""
        if self.kind in BOOK_KINDS:
            for book in BOOKS:
                if book == self.owner:
                    return book
        return None

    @property
    def citizen_id(self) -> str | None:
        return self.owner if self.kind in CITIZEN_KINDS else None

    def __str__(self) -> str:
        return self._id
