"""Intake validation: one raw reported item in, an ``Action`` or a ``Rejection`` out.

Checks run in the precedence order of ``REJECTION_CODES``; the first failing check
names the rejection. Pure: the caller passes the clock and the partner's permissions.

An item that passes every check (nearly all of them) is accepted by a fast path first: one sweep
with exact types, as orjson parses them. Whatever it does not accept outright takes the checks in
order, which alone decide rejections, so every decision and text is theirs.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
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
    # The bounds themselves, computed once per batch rather than once per item.
    earliest: datetime = field(init=False, repr=False, compare=False)
    latest: datetime = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "earliest", self.now - self.max_age)
        object.__setattr__(self, "latest", self.now + self.max_future)


class _Bad(Exception):
    def __init__(self, code: str, detail: str) -> None:
        self.code, self.detail = code, detail


def validate_action(raw: Any, partner_id: str, perms: Permissions, window: Window) -> Action | Rejection:
    """Validate one reported item of a batch."""
    if type(raw) is dict and len(raw) == len(_ENVELOPE):
        event_id, user = raw.get("event_id"), raw.get("user")
        if type(event_id) is str and _event_id_ok(event_id) and type(user) is str and 0 < len(user) <= 64:
            body = _well_formed(raw, perms, window)
            if body is not None:
                return Action(partner_id, event_id, user, body)
    return _validate_action_in_order(raw, partner_id, perms, window)


def _validate_action_in_order(
    raw: Any, partner_id: str, perms: Permissions, window: Window
) -> Action | Rejection:
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
    if type(raw) is dict and len(raw) == len(_BODY):
        body = _well_formed(raw, perms, window)
        if body is not None:
            return body
    return _validate_body_in_order(raw, perms, window)


def _validate_body_in_order(raw: Any, perms: Permissions, window: Window) -> ActionBody | Rejection:
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
    if occurred_at > window.latest:
        raise _Bad("occurred-at-out-of-window", "occurred_at lies more than 300 s in the future")
    if occurred_at < window.earliest:
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


# The fast path: None for anything it does not accept outright (then the checks in order decide).
# Its objects are dicts of the exact size whose every field reads (``get``) as a value of the
# right type: so no field is missing (None passes no check) and none is unknown, which is what
# comparing key sets would tell, at half the cost.

_event_id_ok = EVENT_ID.fullmatch


def _well_formed(raw: dict[str, Any], perms: Permissions, window: Window) -> ActionBody | None:
    kind, region = raw.get("type"), raw.get("region")
    if not (
        type(kind) is str
        and kind in perms.types
        and type(region) is str
        and region in perms.regions
        and region in SHANTOU_REGIONS  # (its codes are 6 digits: REGION holds)
    ):
        return None
    read = _DATA_READERS.get(kind)
    data = None if read is None else read(raw.get("data"))
    occurred_at = _instant(raw.get("occurred_at"), window)
    if data is None or occurred_at is None:
        return None
    return ActionBody(kind, occurred_at, region, data)  # type: ignore[arg-type]  # kind: a key of _DATA_READERS


def _instant(value: Any, window: Window) -> datetime | None:
    """What ``_timestamp`` gives for an RFC 3339 date-time inside the window, else None."""
    if type(value) is not str or value[10:11] != "T":
        return None
    try:
        parsed = datetime.fromisoformat(value)
        at = None if parsed.tzinfo is None else parsed.astimezone(UTC)
    except (ValueError, OverflowError):
        return None
    return at if at is not None and window.earliest <= at <= window.latest else None


def _trip(data: Any) -> Trip | None:
    if type(data) is dict and len(data) == 3:
        mode, distance, duration = data.get("mode"), data.get("distance_m"), data.get("duration_s")
        if (
            type(mode) is str
            and mode in TRIP_MODES
            and type(distance) is int
            and 0 < distance <= _MAX_QUANTITY
            and type(duration) is int
            and 0 < duration <= _MAX_QUANTITY
        ):
            return Trip(mode, distance, duration)
    return None


def _waste_sorting(data: Any) -> WasteSorting | None:
    if type(data) is dict and len(data) == (4 if "material" in data else 3):
        category, weight, station = data.get("category"), data.get("weight_g"), data.get("station_id")
        material = data.get("material")
        if (
            type(category) is str
            and category in WASTE_CATEGORIES
            and type(weight) is int
            and 0 < weight <= _MAX_QUANTITY
            and type(station) is str
            and 0 < len(station) <= 64
            and (
                material is None
                or (category == "recyclable" and type(material) is str and material in MATERIALS)
            )
        ):
            return WasteSorting(category, weight, station, material)
    return None


def _clean_plate(data: Any) -> CleanPlate | None:
    if type(data) is dict and len(data) == 3:
        canteen, meal, verifier = data.get("canteen_id"), data.get("meal"), data.get("verified_by")
        if (
            type(canteen) is str
            and 0 < len(canteen) <= 64
            and type(meal) is str
            and meal in MEALS
            and type(verifier) is str
            and verifier in VERIFIERS
        ):
            return CleanPlate(canteen, meal, verifier)
    return None


_DATA_READERS: dict[str, Callable[[Any], ActionData | None]] = {
    "trip": _trip,
    "waste_sorting": _waste_sorting,
    "clean_plate": _clean_plate,
}


def canonical_content(action: Action) -> dict[str, Any]:
    """The action's content as stored, occurred_at in UTC: what a retry must repeat exactly."""
    body = action.body
    return {
        "user": action.user,
        "type": body.type,
        "occurred_at": utc_text(body.occurred_at),
        "region": body.region,
        "data": _reported(body.data),
    }


def _reported(data: ActionData) -> dict[str, Any]:
    """``data_fields`` spelled out for the kinds intake knows: the generic one took ~0.7 µs an action."""
    if type(data) is Trip:
        return {"mode": data.mode, "distance_m": data.distance_m, "duration_s": data.duration_s}
    if type(data) is WasteSorting:
        fields: dict[str, Any] = {
            "category": data.category,
            "weight_g": data.weight_g,
            "station_id": data.station_id,
        }
        if data.material is not None:
            fields["material"] = data.material
        return fields
    if type(data) is CleanPlate:
        return {"canteen_id": data.canteen_id, "meal": data.meal, "verified_by": data.verified_by}
    return data_fields(data)


def content_hash(action: Action, content: dict[str, Any] | None = None) -> str:
    """SHA-256 of the canonical content (``content``, when the caller has it already): tells a
    retry (same hash) from a conflict. The bytes are those of ``json.dumps(content, sort_keys=True,
    separators=(",", ":"), ensure_ascii=False)``, produced by orjson (a tested equivalence)."""
    content = canonical_content(action) if content is None else content
    return hashlib.sha256(orjson.dumps(content, option=orjson.OPT_SORT_KEYS)).hexdigest()


def utc_text(at: datetime) -> str:
    """``YYYY-MM-DDTHH:MM:SSZ`` (the proof format's rendering; sub-seconds are kept when present)."""
    if at.tzinfo is not UTC:
        at = at.astimezone(UTC)
    if type(at) is datetime:  # orjson renders it as isoformat() does, in a third of the time (tested)
        return orjson.dumps(at, option=orjson.OPT_UTC_Z)[1:-1].decode()
    return at.isoformat().replace("+00:00", "Z")


def contains_nul(value: Any) -> bool:
    """Whether a JSON value holds U+0000 in any string or key: PostgreSQL cannot store one, so
    input carrying it is refused rather than allowed to fail at the database."""
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, dict):
        return any(contains_nul(k) or contains_nul(v) for k, v in value.items())
    return isinstance(value, list) and any(contains_nul(v) for v in value)
