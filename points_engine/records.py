"""Accepted actions as compact records: what travels on the settlement streams.

A record is a JSON-ready list ``[partner_id, event_id, citizen_id, user, type, occurred_at_us,
region, data]``. Records are written by intake from validated actions, so reading one back trusts
its shape and only rebuilds the frozen values (no second validation on the hot path).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from points_engine.actions import Action, ActionBody, ActionData, CleanPlate, Trip, WasteSorting
from points_engine.errors import EngineError
from points_engine.frozen import fast_init
from points_engine.rules.state import EPOCH, micros

Record = list[Any]


class InvalidRecord(EngineError):
    code = "invalid-record"


@fast_init
@dataclass(frozen=True, slots=True)
class Accepted:
    """An accepted action and the citizen it was bound to at intake: what settlement takes."""

    citizen_id: str
    action: Action

    @property
    def key(self) -> tuple[str, str]:
        return self.action.partner_id, self.action.event_id


def data_fields(data: ActionData) -> dict[str, Any]:
    """The fields of an action's data as reported (absent optional fields left out)."""
    fields = {name: getattr(data, name) for name in data.__slots__}
    return {k: v for k, v in fields.items() if v is not None}


def to_record(item: Accepted) -> Record:
    a = item.action
    return [
        a.partner_id,
        a.event_id,
        item.citizen_id,
        a.user,
        a.type,
        micros(a.occurred_at),
        a.region,
        data_fields(a.data),
    ]


def from_record(record: Record) -> Accepted:
    """The accepted action of a record written by ``to_record``. Raises InvalidRecord otherwise."""
    try:
        partner_id, event_id, citizen_id, user, type_, at_us, region, data = record
        at = EPOCH + timedelta(0, 0, at_us)  # (days, seconds, microseconds): positional is cheaper
        body = ActionBody(type_, at, region, data_of(type_, data))
    except (TypeError, ValueError, KeyError) as exc:
        raise InvalidRecord(f"not an action record: {exc}") from exc
    return Accepted(citizen_id, Action(partner_id, event_id, user, body))


def accepted_from_row(
    partner_id: str,
    event_id: str,
    citizen_id: str,
    user: str,
    type_: str,
    occurred_at: datetime,
    region: str,
    data: dict[str, Any],
) -> Accepted:
    """The accepted action of a stored row (the ``actions`` table), for sweeping and rebuilding."""
    body = ActionBody(type_, occurred_at, region, data_of(type_, data))  # type: ignore[arg-type]
    return Accepted(citizen_id, Action(partner_id, event_id, user, body))


def data_of(type_: str, data: dict[str, Any]) -> ActionData:
    if type_ == "trip":
        return Trip(data["mode"], data["distance_m"], data["duration_s"])
    if type_ == "waste_sorting":
        return WasteSorting(data["category"], data["weight_g"], data["station_id"], data.get("material"))
    if type_ == "clean_plate":
        return CleanPlate(data["canteen_id"], data["meal"], data["verified_by"])
    raise InvalidRecord(f"unknown action type {type_!r}")
