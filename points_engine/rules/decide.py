"""Deciding one action against the citizen's state: reject, cap or credit, with named reasons."""

from __future__ import annotations

from collections.abc import Iterable

from points_engine.actions import Action, ActionData, Trip
from points_engine.methodologies import Assessment
from points_engine.rules.caps import within_caps
from points_engine.rules.outcome import Outcome
from points_engine.rules.overlap import overlaps
from points_engine.rules.plausibility import implausibility
from points_engine.rules.policy import Policy
from points_engine.rules.reasons import BEYOND_RETENTION, OVERLAPPING_TRIP, REPETITION_REVIEW
from points_engine.rules.repetition import is_repeated
from points_engine.rules.state import (
    CitizenDayState,
    CitizenState,
    day_of,
    micros,
    record,
    record_at,
    span_at,
)


def decide(
    action: Action, assessment: Assessment, state: CitizenState, policy: Policy
) -> tuple[Outcome, CitizenState]:
    """The outcome of ``action`` (priced by ``assessment``) for a citizen in ``state``, and the state
    after it. Pure and deterministic: ``state`` is not changed, and the clock is not read."""
    at_us = micros(action.occurred_at)
    outcome, day = _judge(action.data, at_us, assessment, state, policy)
    if day is None:  # rejected: record() would change nothing
        return outcome, state
    return outcome, record_at(state, action.data, at_us, day, outcome, policy)


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
    return _judge(action.data, micros(action.occurred_at), assessment, state, policy)[0]


def _judge(
    data: ActionData, at_us: int, assessment: Assessment, state: CitizenState, policy: Policy
) -> tuple[Outcome, CitizenDayState | None]:
    """``judge``, and the state's counters of the action's local day (None when rejected)."""
    if isinstance(data, Trip) and (reason := implausibility(data, policy)):
        return _rejected(reason, assessment), None
    horizon = state.horizon_us(policy)
    if horizon is not None and at_us < horizon:
        return _rejected(BEYOND_RETENTION, assessment), None
    if isinstance(data, Trip) and state.spans and overlaps(state.spans, span_at(at_us, data)):
        return _rejected(OVERLAPPING_TRIP, assessment), None
    day = state.day(day_of(at_us))
    reduction_g, capped, count_capped = within_caps(data, assessment.reduction_g, day, policy)
    flagged = is_repeated(data, day, policy)
    outcome = Outcome(
        "capped" if capped else "credited",
        reduction_g,
        0 if count_capped else _points(reduction_g, assessment),
        (*capped, REPETITION_REVIEW) if flagged else capped,
        flagged,
        assessment.methodology,
        assessment.book,
    )
    return outcome, day


def _points(credited_g: int, assessment: Assessment) -> int:
    """Points of the credited grams at the assessment's own ratio, rounded down."""
    if credited_g == assessment.reduction_g:
        return assessment.points
    return credited_g * assessment.points // assessment.reduction_g


def _rejected(reason: str, assessment: Assessment) -> Outcome:
    return Outcome.rejected(reason, assessment.methodology, assessment.book)
