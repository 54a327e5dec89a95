"""Daily caps per citizen: what an action may still earn on its local day, over both books."""

from __future__ import annotations

from dataclasses import dataclass

from points_engine.actions import ActionData, CleanPlate, Trip, WasteSorting
from points_engine.rules.policy import Policy
from points_engine.rules.reasons import (
    CAP_DAILY_REDUCTION,
    CAP_DAILY_TRIPS,
    CAP_MEAL_KIND,
    CAP_MEALS,
    CAP_WASTE_WEIGHT,
)
from points_engine.rules.state import CitizenDayState


@dataclass(frozen=True, slots=True)
class Credit:
    """The reduction within the caps, and every cap that limited it (empty: nothing was capped)."""

    reduction_g: int
    reasons: tuple[str, ...]
    count_capped: bool = False


def within_caps(data: ActionData, reduction_g: int, day: CitizenDayState, policy: Policy) -> Credit:
    """Apply the caps in order. A full count cap (trips, meals, meal kind) credits nothing and ends
    the check. The waste weight cap credits ``floor(allowed_weight × reduction / weight)``; the total
    cap then credits ``min(reduction, remaining)``."""
    full = _full_count_caps(data, day, policy)
    if full:
        return Credit(0, full, count_capped=True)
    reasons: list[str] = []
    if isinstance(data, WasteSorting):
        allowed_g = max(0, policy.daily_waste_g - day.waste_g)
        if data.weight_g > allowed_g:
            reduction_g = allowed_g * reduction_g // data.weight_g
            reasons.append(CAP_WASTE_WEIGHT)
    remaining_g = max(0, policy.daily_reduction_g - day.reduction_g)
    if reduction_g > remaining_g:
        reduction_g = remaining_g
        reasons.append(CAP_DAILY_REDUCTION)
    return Credit(reduction_g, tuple(reasons))


def _full_count_caps(data: ActionData, day: CitizenDayState, policy: Policy) -> tuple[str, ...]:
    if isinstance(data, Trip):
        return (CAP_DAILY_TRIPS,) if day.trips >= policy.daily_trips else ()
    if isinstance(data, CleanPlate):
        full = []
        if day.meals >= policy.daily_meals:
            full.append(CAP_MEALS)
        if day.meals_of(data.meal) >= policy.daily_meals_per_kind:
            full.append(CAP_MEAL_KIND)
        return tuple(full)
    return ()
