"""Settling accepted actions: price each with the methodology in force, decide it against the
citizen's rules state, and book its points. Pure: states in, outcomes, transactions and states out.

One accepted action gives exactly one outcome and at most one ledger transaction (a ``settle`` of
its points, pending certification), whose id derives from the action: settling twice books once.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from points_engine.frozen import fast_init
from points_engine.ledger import Transaction, settle_tx
from points_engine.methodologies import Catalog, assess
from points_engine.methodologies.errors import UnknownMethodologyVersion
from points_engine.methodologies.keys import measure
from points_engine.records import Accepted
from points_engine.regions import book_of
from points_engine.rules import CitizenState, Outcome, Policy, decide, rebuild
from points_engine.rules.reasons import NO_METHODOLOGY


@fast_init
@dataclass(frozen=True, slots=True)
class Settlement:
    """The settlement of one accepted action."""

    accepted: Accepted
    outcome: Outcome
    transaction: Transaction | None  # None when no points are credited


def event_key(partner_id: str, event_id: str) -> str:
    """The cause of an action's settle transaction (``/`` cannot occur in either id)."""
    return f"{partner_id}/{event_id}"


_NOTHING_RECORDED = CitizenState()  # frozen: one serves every citizen new to the rules


def settle(
    batch: Iterable[Accepted], states: Mapping[str, CitizenState], catalog: Catalog, policy: Policy
) -> tuple[list[Settlement], dict[str, CitizenState]]:
    """Settle ``batch`` in order. ``states`` holds the rules state of every citizen in the batch
    (absent: nothing recorded yet); the states of the citizens touched are returned updated."""
    current: dict[str, CitizenState] = {}
    settled: list[Settlement] = []
    for item in batch:
        citizen = item.citizen_id
        state = current.get(citizen) or states.get(citizen) or _NOTHING_RECORDED
        action = item.action
        try:
            assessment = assess(action.body, catalog)
        except UnknownMethodologyVersion:
            outcome = _without_methodology(item)
        else:
            outcome, state = decide(action, assessment, state, policy)
        current[citizen] = state
        tx = None
        if outcome.points > 0:
            key = event_key(action.partner_id, action.event_id)
            tx = settle_tx(outcome.book, citizen, key, outcome.points)
        settled.append(Settlement(item, outcome, tx))
    return settled, current


def replay(
    history: Iterable[tuple[Accepted, Outcome]], policy: Policy, state: CitizenState | None = None
) -> CitizenState:
    """One citizen's rules state from settled outcomes in settlement order (``rules.rebuild``)."""
    return rebuild(((a.action, o) for a, o in history), policy, state)


def _without_methodology(item: Accepted) -> Outcome:
    key, _ = measure(item.action.data)
    return Outcome.rejected(NO_METHODOLOGY, key, book_of(item.action.region))
