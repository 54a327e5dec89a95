"""The audit log's hash chain: events, their canonical bytes, the chain hash, and its verification.

Every administrative event is one ``AuditEvent`` with a gap-free ``seq`` from 1. Its canonical form
is the JSON object of its six fields, keys sorted, no whitespace, UTF-8 (non-ASCII characters as
themselves), ``at`` in UTC as ``YYYY-MM-DDTHH:MM:SS.ffffffZ``::

    {"action":"partner.created","actor":"op_admin","at":"2026-11-24T00:15:00.123456Z",
     "details":{"key_id":"k1"},"seq":1,"subject":"partner:transit_st"}

``hash(n) = SHA-256(bytes.fromhex(hash(n-1)) || canonical(event n))`` in lowercase hex, with
``hash(0) = GENESIS`` (64 zeros). Rewriting one event changes its hash and breaks the link of the
next, so an edit shows unless every later hash is rewritten too: keep the head (``seq``, ``hash``)
somewhere else and pass it back as an anchor. See docs/audit.md.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from points_engine.errors import EngineError

__all__ = [
    "ACTION",
    "ACTION_MAX",
    "ACTOR_MAX",
    "GENESIS",
    "SUBJECT_MAX",
    "AuditEvent",
    "ChainProblem",
    "ChainVerifier",
    "ChainedEvent",
    "InvalidAuditEvent",
    "VerifyReport",
    "canonical",
    "chain",
    "chain_hash",
    "utc_micros",
    "verify_chain",
]

GENESIS = "0" * 64
ACTION = re.compile(r"[a-z][a-z0-9-]*(\.[a-z][a-z0-9-]*)+")  # partner.key-rotated
ACTION_MAX = 64
ACTOR_MAX = 80
SUBJECT_MAX = 200
# Keys of ``details`` are ASCII so that sorting by code point (Python) and by UTF-16 unit (JCS,
# JavaScript) agree; strings hold no U+0000 (PostgreSQL cannot store it) and no lone surrogate
# (UTF-8 cannot encode it), so what is stored reads back byte for byte.
_DETAIL_KEY = re.compile(r"[A-Za-z0-9_.:-]{1,64}")
_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")
_HEX64 = re.compile(r"[0-9a-f]{64}")


class InvalidAuditEvent(EngineError):
    """An event that has no canonical form (a naive time, a float, an unportable string …)."""

    code = "invalid-audit-event"

    def __init__(self, field: str, reason: str) -> None:
        super().__init__(f"{field}: {reason}")
        self.field = field
        self.reason = reason


@dataclass(frozen=True, slots=True)
class AuditEvent:
    """One administrative event: who (``actor``) did what (``action``) to what (``subject``), when."""

    seq: int
    at: datetime
    actor: str
    action: str
    subject: str
    details: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class ChainedEvent:
    """An event as stored: with the hash it links to and its own hash."""

    event: AuditEvent
    prev_hash: str
    hash: str


@dataclass(frozen=True, slots=True)
class ChainProblem:
    """One disagreement, naming the row (``seq``) it is about; ``code`` is stable.

    Codes: ``altered`` (the row's hash is not the hash of its content: the row was changed),
    ``broken-link`` (its prev_hash is not the previous row's hash: a row before it was removed or
    rewritten), ``missing`` (seq ``seq`` … ``last_missing`` are absent), ``out-of-order`` (a seq
    repeated or going back), ``anchor-mismatch`` / ``anchor-missing`` (a head recorded earlier is
    now different or gone: the chain was rewritten or cut back).
    """

    seq: int
    code: str
    detail: str


@dataclass(frozen=True, slots=True)
class VerifyReport:
    """The outcome of a verification: ``ok`` iff no problem; the first problems and how many."""

    rows: int
    head_seq: int
    head_hash: str
    problems: tuple[ChainProblem, ...]
    problem_count: int

    @property
    def ok(self) -> bool:
        return self.problem_count == 0

    def as_json(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "rows": self.rows,
            "head": {"seq": self.head_seq, "hash": self.head_hash},
            "problem_count": self.problem_count,
            "problems": [{"seq": p.seq, "code": p.code, "detail": p.detail} for p in self.problems],
        }


def canonical(event: AuditEvent) -> bytes:
    """The canonical UTF-8 JSON of ``event`` (see the module docstring); InvalidAuditEvent if none."""
    if type(event.seq) is not int or event.seq < 1:
        raise InvalidAuditEvent("seq", f"must be an int from 1, got {event.seq!r}")
    _check_text("actor", event.actor, ACTOR_MAX)
    _check_text("subject", event.subject, SUBJECT_MAX)
    _check_text("action", event.action, ACTION_MAX)
    if not ACTION.fullmatch(event.action):
        raise InvalidAuditEvent("action", f"must be a dotted kebab-case code, got {event.action!r}")
    if not isinstance(event.details, dict):
        raise InvalidAuditEvent("details", "must be a dict (a JSON object)")
    _check_json("details", event.details)
    document = {
        "action": event.action,
        "actor": event.actor,
        "at": utc_micros(event.at),
        "details": event.details,
        "seq": event.seq,
        "subject": event.subject,
    }
    text = json.dumps(document, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False)
    return text.encode("utf-8")


def utc_micros(at: datetime) -> str:
    """``at`` in UTC as ``YYYY-MM-DDTHH:MM:SS.ffffffZ``; InvalidAuditEvent for a naive time."""
    if not isinstance(at, datetime) or at.utcoffset() is None:
        raise InvalidAuditEvent("at", f"must be a timezone-aware datetime, got {at!r}")
    try:
        u = at.astimezone(UTC)
    except OverflowError:
        raise InvalidAuditEvent("at", f"{at!r} is outside the years 1 to 9999 in UTC") from None
    # Not strftime: it does not pad years below 1000 on every platform.
    return "%04d-%02d-%02dT%02d:%02d:%02d.%06dZ" % (  # noqa: UP031
        u.year, u.month, u.day, u.hour, u.minute, u.second, u.microsecond
    )  # fmt: skip


def chain_hash(prev_hash: str, event: AuditEvent) -> str:
    """``SHA-256(bytes.fromhex(prev_hash) || canonical(event))`` in lowercase hex."""
    if not isinstance(prev_hash, str) or not _HEX64.fullmatch(prev_hash):
        raise InvalidAuditEvent("prev_hash", "must be 64 lowercase hex digits")
    return hashlib.sha256(bytes.fromhex(prev_hash) + canonical(event)).hexdigest()


def chain(prev_hash: str, event: AuditEvent) -> ChainedEvent:
    """``event`` linked after the row whose hash is ``prev_hash`` (GENESIS for the first)."""
    return ChainedEvent(event, prev_hash, chain_hash(prev_hash, event))


class ChainVerifier:
    """Checks a chain fed row by row in stored (seq) order, keeping only the first problems.

    Memory is flat: one row's hash and the first ``keep`` problems, however long the chain.
    ``anchors`` maps a seq to the hash it had when recorded elsewhere (a head kept off-site).
    """

    def __init__(self, *, anchors: Mapping[int, str] | None = None, keep: int = 100) -> None:
        self._anchors = dict(anchors or {})
        self._keep = keep
        self._problems: list[ChainProblem] = []
        self._count = 0
        self._rows = 0
        self._expected = 1
        self._prev_hash = GENESIS
        self._head_seq = 0

    def feed(self, row: ChainedEvent) -> None:
        """Check one more row against the rows fed before it.

        A row whose seq does not go forward cannot belong to the chain: it is reported (with its own
        hash checked) and the chain goes on from the row before it."""
        self._rows += 1
        seq = row.event.seq
        if type(seq) is not int:
            self._report(self._expected, "altered", f"seq is {seq!r}, not an int")
            return
        if seq < self._expected:
            self._report(seq, "out-of-order", f"row {seq} comes after row {self._head_seq}")
            self._check_hash(seq, row)
            return
        if seq > self._expected:
            span = (
                f"row {self._expected}" if seq - 1 == self._expected else f"rows {self._expected}-{seq - 1}"
            )
            self._report(self._expected, "missing", f"{span} missing before row {seq}")
        if row.prev_hash != self._prev_hash:
            self._report(
                seq,
                "broken-link",
                f"prev_hash {_short(row.prev_hash)} is not the hash of the row before "
                f"({_short(self._prev_hash)}): a row before it was removed or rewritten",
            )
        self._check_hash(seq, row)
        anchored = self._anchors.pop(seq, None)
        if anchored is not None and anchored != row.hash:
            self._report(seq, "anchor-mismatch", f"hash {_short(row.hash)}, recorded as {_short(anchored)}")
        self._prev_hash = row.hash
        self._head_seq = seq
        self._expected = seq + 1

    def _check_hash(self, seq: int, row: ChainedEvent) -> None:
        try:
            computed = chain_hash(row.prev_hash, row.event)
        except InvalidAuditEvent as exc:
            self._report(seq, "altered", f"the row has no canonical form ({exc.detail})")
            return
        if computed != row.hash:
            self._report(
                seq,
                "altered",
                f"stored hash {_short(row.hash)} is not the hash of its content ({_short(computed)})",
            )

    def report(self) -> VerifyReport:
        """The outcome so far; anchors beyond the last row fed count as cut off."""
        for seq, anchored in sorted(self._anchors.items()):
            self._report(seq, "anchor-missing", f"row {seq} (hash {_short(anchored)}) is gone")
        self._anchors.clear()
        return VerifyReport(
            rows=self._rows,
            head_seq=self._head_seq,
            head_hash=self._prev_hash,
            problems=tuple(self._problems),
            problem_count=self._count,
        )

    def _report(self, seq: int, code: str, detail: str) -> None:
        self._count += 1
        if len(self._problems) < self._keep:
            self._problems.append(ChainProblem(seq, code, detail))


def verify_chain(
    rows: Iterable[ChainedEvent], *, anchors: Mapping[int, str] | None = None, keep: int = 100
) -> VerifyReport:
    """Verify ``rows`` (in stored order) from GENESIS: every disagreement, named by its seq."""
    verifier = ChainVerifier(anchors=anchors, keep=keep)
    for row in rows:
        verifier.feed(row)
    return verifier.report()


def _short(digest: str) -> str:
    return f"{digest[:12]}…" if isinstance(digest, str) and len(digest) > 12 else repr(digest)


def _check_text(name: str, value: object, limit: int) -> None:
    if not isinstance(value, str) or not value or len(value) > limit:
        raise InvalidAuditEvent(name, f"must be a string of 1 to {limit} characters, got {value!r}")
    if _UNSTORABLE.search(value):
        raise InvalidAuditEvent(name, "must not hold U+0000 or a lone surrogate")


def _check_json(path: str, value: object) -> None:
    """JSON with integers only (no float has one spelling everywhere), portable strings, ASCII keys."""
    if value is None or isinstance(value, bool | int):
        return
    if isinstance(value, str):
        if _UNSTORABLE.search(value):
            raise InvalidAuditEvent(path, "must not hold U+0000 or a lone surrogate")
        return
    if isinstance(value, list | tuple):
        for i, item in enumerate(value):
            _check_json(f"{path}[{i}]", item)
        return
    if isinstance(value, dict):
        for key, item in value.items():
            if not isinstance(key, str) or not _DETAIL_KEY.fullmatch(key):
                raise InvalidAuditEvent(path, f"key {key!r} is not 1-64 of [A-Za-z0-9_.:-]")
            _check_json(f"{path}.{key}", item)
        return
    raise InvalidAuditEvent(path, f"{type(value).__name__} is not allowed (integers, strings, …)")
