"""The reason codes of the anti-fraud rules: stable kebab-case, part of the contract.

``REASONS`` lists them in precedence order: rejections first (the first failing check wins and is the
only reason given), then the caps (every cap that limited the credit is named), then the review flag.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Reason:
    code: str
    description: str


NO_METHODOLOGY = "no-methodology"
TOO_SHORT = "too-short"
IMPLAUSIBLE_DISTANCE = "implausible-distance"
IMPLAUSIBLE_SPEED = "implausible-speed"
BEYOND_RETENTION = "beyond-retention"
OVERLAPPING_TRIP = "overlapping-trip"
CAP_DAILY_TRIPS = "cap-daily-trips"
CAP_MEALS = "cap-meals"
CAP_MEAL_KIND = "cap-meal-kind"
CAP_WASTE_WEIGHT = "cap-waste-weight"
CAP_DAILY_REDUCTION = "cap-daily-reduction"
REPETITION_REVIEW = "repetition-review"

REASONS: tuple[Reason, ...] = (
    Reason(NO_METHODOLOGY, "rejected: no methodology version was in force when the action occurred"),
    Reason(TOO_SHORT, "rejected: the trip lasted less than the minimum duration"),
    Reason(IMPLAUSIBLE_DISTANCE, "rejected: the trip is longer than the maximum distance of its mode"),
    Reason(IMPLAUSIBLE_SPEED, "rejected: the trip's average speed is above the maximum of its mode"),
    Reason(
        BEYOND_RETENTION,
        "rejected: the action is older than the citizen's retained state can vouch for (overlap and caps)",
    ),
    Reason(OVERLAPPING_TRIP, "rejected: the trip overlaps in time a trip of the citizen settled before"),
    Reason(CAP_DAILY_TRIPS, "capped to zero: the citizen's trips of the day are at the daily maximum"),
    Reason(CAP_MEALS, "capped to zero: the citizen's Clean Plate meals of the day are at the daily maximum"),
    Reason(CAP_MEAL_KIND, "capped to zero: a meal of this kind was already credited that day"),
    Reason(CAP_WASTE_WEIGHT, "capped: only the weight within the daily waste weight cap earns a reduction"),
    Reason(CAP_DAILY_REDUCTION, "capped: only the reduction within the daily reduction cap is credited"),
    Reason(REPETITION_REVIEW, "flagged for review: many identical distances or weights in one day"),
)

REASON_CODES: tuple[str, ...] = tuple(reason.code for reason in REASONS)
REJECTIONS: frozenset[str] = frozenset(REASON_CODES[: REASON_CODES.index(OVERLAPPING_TRIP) + 1])
COUNT_CAPS: frozenset[str] = frozenset({CAP_DAILY_TRIPS, CAP_MEALS, CAP_MEAL_KIND})
