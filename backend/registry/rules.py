"""The registry's rules on plain values: account ids, free text, and how a piece splits."""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

from backend.errors import InvalidRequest, UnknownRange
from points_engine.certification import InvalidSerial, SerialRange, parse_serial

ACCOUNT_ID = re.compile(r"[a-z0-9][a-z0-9-]{2,39}")
TEXT_MAX = 200
STATUSES = ("active", "retired", "split")
CURRENT = ("active", "retired")  # the pieces that exist now; ``split`` rows are history


def check_account_id(account_id: str) -> str:
    """``account_id`` if it is 3-40 characters of [a-z0-9-] starting with a letter or digit."""
    if not isinstance(account_id, str) or not ACCOUNT_ID.fullmatch(account_id):
        raise InvalidRequest("account_id must be 3-40 characters of [a-z0-9-], starting with [a-z0-9]")
    return account_id


def check_text(name: str, value: str) -> str:
    """``value`` if it is 1-200 characters, not only spaces, without control characters (C0, DEL,
    C1) or lone surrogates: names that PostgreSQL, JSON and the audit chain all store as given."""
    if not isinstance(value, str) or not 1 <= len(value) <= TEXT_MAX or not value.strip():
        raise InvalidRequest(f"{name} must be 1-{TEXT_MAX} characters, not only spaces")
    if any(unicodedata.category(c) in ("Cc", "Cs") for c in value):
        raise InvalidRequest(f"{name} may not hold control characters")
    return value


def range_of(serial: str) -> SerialRange:
    """The range a serial names; a text that is no serial names no range (``unknown-range``)."""
    try:
        return parse_serial(serial)
    except InvalidSerial:
        raise UnknownRange(f"no serial range {serial!r}") from None


@dataclass(frozen=True, slots=True)
class Part:
    """Tonnes ``first``..``last`` of a piece being split; ``chosen`` is the part the operation acts on."""

    first: int
    last: int
    chosen: bool


def split(first: int, last: int, lo: int, hi: int) -> list[Part]:
    """Tonnes ``first``..``last`` cut into the chosen ``lo``..``hi`` and what lies before and after it,
    in tonne order: one to three parts that tile the piece exactly."""
    parts = [Part(first, lo - 1, False), Part(lo, hi, True), Part(hi + 1, last, False)]
    return [p for p in parts if p.first <= p.last]
