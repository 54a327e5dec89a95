"""Plausibility of a trip: server-side checks a mock-location app cannot talk its way past."""

from __future__ import annotations

from points_engine.actions import Trip
from points_engine.rules.policy import Policy
from points_engine.rules.reasons import IMPLAUSIBLE_DISTANCE, IMPLAUSIBLE_SPEED, TOO_SHORT


def implausibility(trip: Trip, policy: Policy) -> str | None:
    """The first failing check's reason code, or None if the trip is plausible. Limits are inclusive:
    a bike at exactly 30 km/h passes. Integer arithmetic only (distance_m·3600 ≤ km/h·1000·duration_s)."""
    if trip.duration_s < policy.min_duration_s:
        return TOO_SHORT
    if trip.distance_m > policy.max_distance_km[trip.mode] * 1000:
        return IMPLAUSIBLE_DISTANCE
    if trip.distance_m * 3600 > policy.max_speed_kmh[trip.mode] * 1000 * trip.duration_s:
        return IMPLAUSIBLE_SPEED
    return None
