"""Deciding one action against the citizen's state: reject, cap or credit, with named reasons."""

from __future__ import annotations

from collections.abc import Iterable

from points_engine.actions import Action, Trip
from points_engine.methodologies import Assessment
from points_engine.rules.caps import within_caps
from points_engine.rules.outcome import Outcome
from points_engine.rules.overlap import overlaps
from points_engine.rules.plausibility import implausibility
from points_engine.rules.policy import Policy
from points_engine.rules.reasons import BEYOND_RETENTION, OVERLAPPING_TRIP, REPETITION_REVIEW
from points_engine.rules.repetition import is_repeated
from points_engine.rules.state import CitizenState, local_day, micros, record, trip_span


def decide(
    action: Action, assessment: Assessment, state: CitizenState, policy: Policy
) -> tuple[Outcome, CitizenState]:
    """The outcome of ``action`` (priced by ``assessment``) for a citizen in ``state``, and the state
    after it. Pure and deterministic: ``state`` is not changed, and the clock is not read."""
    outcome = judge(action, assessment, state, policy)
    return outcome, record(state, action, outcome, policy)


def decide_many(
    items: Iterable[tuple[Action, Assessment]], state: CitizenState, policy: Policy
) -> tuple[tuple[Outcome, ...], CitizenState]:
    """Decide one citizen's actions in the order they are settled: the outcomes and the final state."""
    outcomes: list[Outcome] = []
    for action, assessment in items:
        outcome, state = decide(action, assessment, state, policy)
        outcomes.append(outcome)
    return tuple(outcomes), state


def rebuild(
    history: Iterable[tuple[Action, Outcome]], policy: Policy, state: CitizenState | None = None
) -> CitizenState:
    """The state from settled outcomes (rejected ones may be included; they change nothing), in the
    order they were settled: equal to the state after deciding the same actions in that order."""
    state = CitizenState() if state is None else state
    for action, outcome in history:
        state = record(state, action, outcome, policy)
    return state


def judge(action: Action, assessment: Assessment, state: CitizenState, policy: Policy) -> Outcome:
    """The outcome alone; checks run in the precedence order of ``REASONS``."""
    data = action.data
    if isinstance(data, Trip) and (reason := implausibility(data, policy)):
        return _rejected(reason, assessment)
    horizon = state.horizon_us(policy)
    if horizon is not None and micros(action.occurred_at) < horizon:
        return _rejected(BEYOND_RETENTION, assessment)
    if isinstance(data, Trip) and overlaps(state.spans, trip_span(action, data)):
        return _rejected(OVERLAPPING_TRIP, assessment)
    day = state.day(local_day(action.occurred_at))
    credit = within_caps(data, assessment.reduction_g, day, policy)
    flagged = is_repeated(data, day, policy)
    return Outcome(
        status="capped" if credit.reasons else "credited",
        reduction_g=credit.reduction_g,
        points=0 if credit.count_capped else _points(credit.reduction_g, assessment),
        reasons=credit.reasons + ((REPETITION_REVIEW,) if flagged else ()),
        flagged=flagged,
        methodology=assessment.methodology,
        book=assessment.book,
    )


def _points(credited_g: int, assessment: Assessment) -> int:
    """Points of the credited grams at the assessment's own ratio, rounded down."""
    if credited_g == assessment.reduction_g:
        return assessment.points
    return credited_g * assessment.points // assessment.reduction_g


def _rejected(reason: str, assessment: Assessment) -> Outcome:
    return Outcome.rejected(reason, assessment.methodology, assessment.book)
