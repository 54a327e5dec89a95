"""Anti-fraud rules: plausibility, overlap, daily caps and repetition, each decision with its reasons.

``decide(action, assessment, state, policy)`` is pure: one citizen's state in, an ``Outcome`` and the
new state out. ``rebuild`` replays settled outcomes into the same state. See docs/rules.md.
"""

from points_engine.rules.decide import decide, decide_many, judge, rebuild
from points_engine.rules.errors import InvalidPolicy, InvalidRulesState
from points_engine.rules.outcome import STATUSES, Outcome, Status
from points_engine.rules.policy import Policy
from points_engine.rules.reasons import REASON_CODES, REASONS, Reason
from points_engine.rules.state import CitizenDayState, CitizenState, local_day, record

__all__ = [
    "REASONS",
    "REASON_CODES",
    "STATUSES",
    "CitizenDayState",
    "CitizenState",
    "InvalidPolicy",
    "InvalidRulesState",
    "Outcome",
    "Policy",
    "Reason",
    "Status",
    "decide",
    "decide_many",
    "judge",
    "local_day",
    "rebuild",
    "record",
]
