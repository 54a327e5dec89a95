"""The keyset of citizen lists: newest first (``occurred_at`` desc), then ``partner_id``, ``event_id``.
The cursor is opaque to callers: base64url of the last item's key."""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Generic, TypeVar

import orjson
from sqlalchemy import ColumnElement, Table, and_, or_

from backend.errors import InvalidRequest

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Page(Generic[T]):
    items: list[T]
    next: str | None  # pass back as ``after`` for the next page; None on the last page


def encode(occurred_at: datetime, partner_id: str, event_id: str) -> str:
    raw = orjson.dumps([occurred_at.isoformat(), partner_id, event_id])
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode(cursor: str) -> tuple[datetime, str, str]:
    """The key in ``cursor``; InvalidRequest for anything this module did not write."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        at, partner_id, event_id = orjson.loads(raw)
        when = datetime.fromisoformat(at)
    except (binascii.Error, orjson.JSONDecodeError, ValueError, TypeError) as exc:
        raise InvalidRequest(f"/after: {cursor!r} is not a cursor of this list") from exc
    if when.tzinfo is None or not isinstance(partner_id, str) or not isinstance(event_id, str):
        raise InvalidRequest(f"/after: {cursor!r} is not a cursor of this list")
    return when, partner_id, event_id


def after(outcomes: Table, cursor: str | None) -> ColumnElement[bool] | None:
    """The condition selecting the items after ``cursor`` in list order (None: from the start)."""
    if cursor is None:
        return None
    at, partner_id, event_id = decode(cursor)
    c = outcomes.c
    return or_(
        c.occurred_at < at,
        and_(
            c.occurred_at == at,
            or_(c.partner_id > partner_id, and_(c.partner_id == partner_id, c.event_id > event_id)),
        ),
    )


def order(outcomes: Table) -> tuple[Any, ...]:
    return (outcomes.c.occurred_at.desc(), outcomes.c.partner_id, outcomes.c.event_id)


def page(items: list[T], limit: int, key: Any) -> Page[T]:
    """The first ``limit`` of ``items`` (fetched with ``limit + 1``), and the cursor if more follow."""
    if len(items) <= limit:
        return Page(items, None)
    last = items[limit - 1]
    return Page(items[:limit], encode(*key(last)))
