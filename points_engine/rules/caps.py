"""Daily caps per citizen: what an action may still earn on its local day, over both books."""

from __future__ import annotations

from typing import TypeAlias

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

# What an action may earn within the caps: the reduction credited, every cap that limited it (empty:
# nothing was capped), and whether a full count cap ended the check (then nothing is credited).
Credit: TypeAlias = tuple[int, tuple[str, ...], bool]

_TRIPS_FULL = (CAP_DAILY_TRIPS,)
_WASTE_CAPPED = (CAP_WASTE_WEIGHT,)


def within_caps(data: ActionData, reduction_g: int, day: CitizenDayState, policy: Policy) -> Credit:
    """Apply the caps in order. A full count cap (trips, meals, meal kind) credits nothing and ends
    the check. The waste weight cap credits ``floor(allowed_weight × reduction / weight)``; the total
    cap then credits ``min(reduction, remaining)``."""
    capped: tuple[str, ...] = ()
    if isinstance(data, Trip):
        if day.trips >= policy.daily_trips:
            return 0, _TRIPS_FULL, True
    elif isinstance(data, WasteSorting):
        allowed_g = max(0, policy.daily_waste_g - day.waste_g)
        if data.weight_g > allowed_g:
            reduction_g = allowed_g * reduction_g // data.weight_g
            capped = _WASTE_CAPPED
    elif isinstance(data, CleanPlate):
        full = _full_meal_caps(data, day, policy)
        if full:
            return 0, full, True
    remaining_g = max(0, policy.daily_reduction_g - day.reduction_g)
    if reduction_g > remaining_g:
        return remaining_g, (*capped, CAP_DAILY_REDUCTION), False
    return reduction_g, capped, False


def _full_meal_caps(data: CleanPlate, day: CitizenDayState, policy: Policy) -> tuple[str, ...]:
    full = []
    if day.meals >= policy.daily_meals:
        full.append(CAP_MEALS)
    if day.meals_of(data.meal) >= policy.daily_meals_per_kind:
        full.append(CAP_MEAL_KIND)
    return tuple(full)
