"""The canonical leaf record of a certified action, and the order of leaves in a run (docs/proofs.md).

The record is binding (docs/domain.md, "Proofs"): anyone must be able to rebuild it without our
code. It is the JSON object of exactly seven fields, keys sorted, no whitespace, UTF-8 (non-ASCII
characters as themselves, not escaped), ``occurred_at`` in UTC as ``YYYY-MM-DDTHH:MM:SSZ``::

    {"book":"nanao","citizen_id":"c_…","event_id":"…","methodology":"trip.bus@2026.1",
     "occurred_at":"2026-11-24T00:15:00Z","partner_id":"transit_st","reduction_g":139}
"""

from __future__ import annotations

import re
from datetime import UTC, datetime

# The C string encoder behind json.dumps(ensure_ascii=False): the same bytes as
# json.dumps(record, sort_keys=True, separators=(",", ":"), ensure_ascii=False) at a fifth of the
# cost, which matters over ten million leaves (tests hold the two equal).
from json.encoder import encode_basestring as _json_string

from points_engine.certification.errors import InvalidLeafRecord
from points_engine.regions import BOOKS, Book

__all__ = ["LEAF_FIELDS", "leaf_order_key", "leaf_record", "utc_seconds"]

LEAF_FIELDS = (
    "book",
    "citizen_id",
    "event_id",
    "methodology",
    "occurred_at",
    "partner_id",
    "reduction_g",
)

# Control characters and lone surrogates have more than one JSON spelling across languages (or
# none in UTF-8): a field holding one could not be rebuilt byte for byte elsewhere, so none may.
_UNPORTABLE = re.compile("[\x00-\x1f\x7f\ud800-\udfff]")


def leaf_record(
    *,
    book: Book,
    citizen_id: str,
    event_id: str,
    methodology: str,
    occurred_at: datetime,
    partner_id: str,
    reduction_g: int,
) -> bytes:
    """The canonical record of one action, as the UTF-8 bytes that are hashed into the run's tree.

    ``occurred_at`` must be timezone-aware; it is rendered in UTC to the whole second, sub-seconds
    truncated (never rounded, so an action never moves into the next second, or month). Raises
    InvalidLeafRecord for an unknown book, an empty or unportable string, a naive time, or a
    reduction that is not a non-negative ``int`` (``bool`` and ``float`` are refused).
    """
    if book not in BOOKS:
        raise InvalidLeafRecord("book", f"unknown book {book!r} (books: {', '.join(BOOKS)})")
    texts = {
        "citizen_id": citizen_id,
        "event_id": event_id,
        "methodology": methodology,
        "partner_id": partner_id,
    }
    try:  # one search for the four on the hot path; the slow path below names the culprit
        suspect = _UNPORTABLE.search(citizen_id + event_id + methodology + partner_id) is not None
    except TypeError:
        suspect = True
    if suspect or not all(texts.values()):
        for field, value in texts.items():
            _check_text(field, value)
    if type(reduction_g) is not int or reduction_g < 0:
        raise InvalidLeafRecord("reduction_g", f"must be a non-negative int, got {reduction_g!r}")
    return (
        f'{{"book":"{book}","citizen_id":{_json_string(citizen_id)},'
        f'"event_id":{_json_string(event_id)},"methodology":{_json_string(methodology)},'
        f'"occurred_at":"{utc_seconds(occurred_at)}","partner_id":{_json_string(partner_id)},'
        f'"reduction_g":{reduction_g}}}'
    ).encode()


def utc_seconds(at: datetime) -> str:
    """``at`` in UTC as ``YYYY-MM-DDTHH:MM:SSZ``, sub-seconds truncated. Raises on a naive time."""
    if not isinstance(at, datetime) or at.utcoffset() is None:
        raise InvalidLeafRecord("occurred_at", f"must be a timezone-aware datetime, got {at!r}")
    try:
        u = at.astimezone(UTC)
    except OverflowError:
        raise InvalidLeafRecord("occurred_at", f"{at!r} is outside the years 1 to 9999 in UTC") from None
    # %-formatting gives the same text as an f-string with format specs at less than half the
    # cost: about 10 s over the ten million leaves of a big run.
    return "%04d-%02d-%02dT%02d:%02d:%02dZ" % (u.year, u.month, u.day, u.hour, u.minute, u.second)  # noqa: UP031


def leaf_order_key(partner_id: str, event_id: str) -> tuple[str, str]:
    """The sort key of an action's leaf in its run: ``(partner_id, event_id)``, by code point.

    Code point order is UTF-8 byte order: PostgreSQL ``COLLATE "C"`` and SQLite's default
    ``BINARY`` agree with it; a locale collation does not, so never sort leaves with one.
    """
    return partner_id, event_id


def _check_text(field: str, value: str) -> None:
    if not isinstance(value, str) or not value:
        raise InvalidLeafRecord(field, f"must be a non-empty string, got {value!r}")
    if _UNPORTABLE.search(value):
        raise InvalidLeafRecord(field, "must not hold control characters or lone surrogates")
