"""Repetition: many identical distances or weights in a day look scripted; a person reviews them."""

from __future__ import annotations

from points_engine.actions import ActionData, Trip, WasteSorting
from points_engine.rules.policy import Policy
from points_engine.rules.state import CitizenDayState, count_of


def is_repeated(data: ActionData, day: CitizenDayState, policy: Policy) -> bool:
    """Whether this trip's distance (any mode) or this waste weight (any category), counted with the
    ones seen that day, reaches the threshold: the 4th identical one and later ones are flagged."""
    if isinstance(data, Trip):
        return count_of(day.distances, data.distance_m) + 1 >= policy.repetition_threshold
    if isinstance(data, WasteSorting):
        return count_of(day.weights, data.weight_g) + 1 >= policy.repetition_threshold
    return False
