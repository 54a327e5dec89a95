"""Intake validation: one raw reported item in, an ``Action`` or a ``Rejection`` out.

Checks run in the precedence order of ``REJECTION_CODES``; the first failing check
names the rejection. Pure: the caller passes the clock and the partner's permissions.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson

from points_engine.actions import (
    ACTION_TYPES,
    MATERIALS,
    MEALS,
    TRIP_MODES,
    VERIFIERS,
    WASTE_CATEGORIES,
    Action,
    ActionBody,
    ActionData,
    CleanPlate,
    Trip,
    WasteSorting,
)
from points_engine.records import data_fields
from points_engine.regions import SHANTOU_REGIONS

# In precedence order: the first failing check wins.
REJECTION_CODES = (
    "invalid-action",  # not an object, a field missing, of the wrong type or out of range
    "unknown-type",
    "unknown-region",
    "forbidden-type",  # the partner may not report this type
    "forbidden-region",  # ... or in this region
    "occurred-at-out-of-window",
    "unbound-user",  # decided by the caller, which knows the bindings
    "event-conflict",  # decided by the caller: same event_id, different content
)

EVENT_ID = re.compile(r"[A-Za-z0-9._:-]{1,64}")
REGION = re.compile(r"[0-9]{6}")
_ENVELOPE = {"event_id", "user", "type", "occurred_at", "region", "data"}
_BODY = _ENVELOPE - {"event_id", "user"}
_DATA_FIELDS = {
    "trip": ({"mode", "distance_m", "duration_s"}, set()),
    "waste_sorting": ({"category", "weight_g", "station_id"}, {"material"}),
    "clean_plate": ({"canteen_id", "meal", "verified_by"}, set()),
}
_MAX_QUANTITY = 10**9  # far above any plausible trip or weight; keeps arithmetic and columns bounded


@dataclass(frozen=True, slots=True)
class Rejection:
    code: str
    detail: str
    event_id: str | None = None


@dataclass(frozen=True, slots=True)
class Permissions:
    """What a partner may report."""

    types: frozenset[str]
    regions: frozenset[str]


@dataclass(frozen=True, slots=True)
class Window:
    """How far from ``now`` an action's occurred_at may lie."""

    now: datetime
    max_age: timedelta = timedelta(days=7)
    max_future: timedelta = timedelta(seconds=300)


class _Bad(Exception):
    def __init__(self, code: str, detail: str) -> None:
        self.code, self.detail = code, detail


def validate_action(raw: Any, partner_id: str, perms: Permissions, window: Window) -> Action | Rejection:
    """Validate one reported item of a batch."""
    event_id = raw.get("event_id") if isinstance(raw, Mapping) else None
    event_id = event_id if isinstance(event_id, str) and EVENT_ID.fullmatch(event_id) else None
    try:
        if not isinstance(raw, Mapping):
            raise _Bad("invalid-action", "each action must be a JSON object")
        _no_unknown(raw, _ENVELOPE, "action")
        if event_id is None:
            raise _Bad("invalid-action", "event_id must be 1-64 characters of [A-Za-z0-9._:-]")
        user = raw.get("user")
        if not isinstance(user, str) or not 1 <= len(user) <= 64:
            raise _Bad("invalid-action", "user must be a string of 1-64 characters")
        body = _body(raw, perms, window)
    except _Bad as bad:
        return Rejection(bad.code, bad.detail, event_id)
    return Action(partner_id=partner_id, event_id=event_id, user=user, body=body)


def validate_body(raw: Any, perms: Permissions, window: Window) -> ActionBody | Rejection:
    """Validate an action without event_id and user (what a quote prices)."""
    try:
        if not isinstance(raw, Mapping):
            raise _Bad("invalid-action", "the action must be a JSON object")
        _no_unknown(raw, _BODY, "action")
        return _body(raw, perms, window)
    except _Bad as bad:
        return Rejection(bad.code, bad.detail)


def _body(raw: Mapping[str, Any], perms: Permissions, window: Window) -> ActionBody:
    kind = raw.get("type")
    if kind not in ACTION_TYPES:
        raise _Bad("unknown-type", f"type must be one of {', '.join(ACTION_TYPES)}")
    occurred_at = _timestamp(raw.get("occurred_at"))
    region = raw.get("region")
    if not isinstance(region, str) or not REGION.fullmatch(region):
        raise _Bad("invalid-action", "region must be a 6-digit administrative division code")
    data = _data(kind, raw.get("data"))
    if region not in SHANTOU_REGIONS:
        raise _Bad("unknown-region", f"region {region} is not a division of Shantou")
    if kind not in perms.types:
        raise _Bad("forbidden-type", f"this partner may not report actions of type {kind}")
    if region not in perms.regions:
        raise _Bad("forbidden-region", f"this partner may not report actions in region {region}")
    if occurred_at > window.now + window.max_future:
        raise _Bad("occurred-at-out-of-window", "occurred_at lies more than 300 s in the future")
    if occurred_at < window.now - window.max_age:
        raise _Bad("occurred-at-out-of-window", "occurred_at is older than 7 days")
    return ActionBody(type=kind, occurred_at=occurred_at, region=region, data=data)


def _timestamp(value: Any) -> datetime:
    if isinstance(value, str) and "T" in value.upper():
        try:
            parsed = datetime.fromisoformat(value)
        except ValueError:
            parsed = None
        if parsed is not None and parsed.tzinfo is not None:
            try:
                return parsed.astimezone(UTC)
            except OverflowError:  # e.g. 0001-01-01T00:00:00+01:00 lies before datetime.min in UTC
                pass
    raise _Bad("invalid-action", "occurred_at must be an RFC 3339 date-time with an offset")


def _data(kind: str, data: Any) -> ActionData:
    if not isinstance(data, Mapping):
        raise _Bad("invalid-action", "data must be a JSON object")
    required, optional = _DATA_FIELDS[kind]
    _no_unknown(data, required | optional, "data")
    missing = sorted(required - data.keys())
    if missing:
        raise _Bad("invalid-action", f"data.{missing[0]} is required for {kind}")
    if kind == "trip":
        return Trip(
            mode=_choice(data, "mode", TRIP_MODES),
            distance_m=_positive(data, "distance_m"),
            duration_s=_positive(data, "duration_s"),
        )
    if kind == "waste_sorting":
        category = _choice(data, "category", WASTE_CATEGORIES)
        material = data.get("material")
        if material is not None:
            if category != "recyclable":
                raise _Bad("invalid-action", "data.material applies to recyclables only")
            material = _choice(data, "material", MATERIALS)
        return WasteSorting(
            category=category,
            weight_g=_positive(data, "weight_g"),
            station_id=_text(data, "station_id"),
            material=material,
        )
    return CleanPlate(
        canteen_id=_text(data, "canteen_id"),
        meal=_choice(data, "meal", MEALS),
        verified_by=_choice(data, "verified_by", VERIFIERS),
    )


def _no_unknown(obj: Mapping[str, Any], allowed: set[str], where: str) -> None:
    unknown = sorted(k for k in obj if k not in allowed)
    if unknown:
        raise _Bad("invalid-action", f"unknown field {unknown[0]!r} in {where}")


def _choice(data: Mapping[str, Any], name: str, allowed: tuple[Any, ...]) -> Any:
    value = data[name]
    if value not in allowed:
        raise _Bad("invalid-action", f"data.{name} must be one of {', '.join(allowed)}")
    return value


def _positive(data: Mapping[str, Any], name: str) -> int:
    value = data[name]
    if type(value) is not int or not 0 < value <= _MAX_QUANTITY:
        raise _Bad("invalid-action", f"data.{name} must be an integer > 0 (and at most {_MAX_QUANTITY})")
    return value


def _text(data: Mapping[str, Any], name: str) -> str:
    value = data[name]
    if not isinstance(value, str) or not 1 <= len(value) <= 64:
        raise _Bad("invalid-action", f"data.{name} must be a string of 1-64 characters")
    return value


def canonical_content(action: Action) -> dict[str, Any]:
    """The action's content as stored, occurred_at in UTC: what a retry must repeat exactly."""
    data = data_fields(action.data)
    return {
        "user": action.user,
        "type": action.type,
        "occurred_at": utc_text(action.occurred_at),
        "region": action.region,
        "data": data,
    }


def content_hash(action: Action, content: dict[str, Any] | None = None) -> str:
    """SHA-256 of the canonical content (``content``, when the caller has it already): tells a
    retry (same hash) from a conflict. The bytes are those of ``json.dumps(content, sort_keys=True,
    separators=(",", ":"), ensure_ascii=False)``, produced by orjson (a tested equivalence)."""
    content = canonical_content(action) if content is None else content
    return hashlib.sha256(orjson.dumps(content, option=orjson.OPT_SORT_KEYS)).hexdigest()


def utc_text(at: datetime) -> str:
    """``YYYY-MM-DDTHH:MM:SSZ`` (the proof format's rendering; sub-seconds are kept when present)."""
    text = at.astimezone(UTC).isoformat()
    return text.replace("+00:00", "Z")


def contains_nul(value: Any) -> bool:
    """Whether a JSON value holds U+0000 in any string or key: PostgreSQL cannot store one, so
    input carrying it is refused rather than allowed to fail at the database."""
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, dict):
        return any(contains_nul(k) or contains_nul(v) for k, v in value.items())
    return isinstance(value, list) and any(contains_nul(v) for v in value)
