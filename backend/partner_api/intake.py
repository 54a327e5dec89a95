"""Accepting a batch of actions: the hot path of intake.

One transaction per batch: bound users are looked up once, new actions are inserted
in one statement (ON CONFLICT DO NOTHING on (partner_id, event_id)), and the ids
that already existed are told apart as retries (same content) or conflicts. After the
commit, the new ones go to the settlement streams (a lost publish is swept up later).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import partial
from typing import Any

import orjson

from backend.auth.signed import SignedRequest
from backend.context import Platform
from backend.db import Tx
from backend.errors import BatchTooLarge, InvalidRequest, MalformedJson
from backend.partner_api import pg_intake
from backend.partner_api import repository as repo
from backend.partner_api.announce import announce, announce_together
from backend.pg import HotPool
from backend.problems import problem
from points_engine.actions import Action
from points_engine.intake import (
    Permissions,
    Rejection,
    Window,
    canonical_content,
    contains_nul,
    content_hash,
    validate_action,
)
from points_engine.records import Accepted
from points_engine.regions import book_of


@dataclass(slots=True)
class _Item:
    index: int
    event_id: str | None
    status: str = "rejected"
    rejection: Rejection | None = None

    def as_result(self) -> dict[str, Any]:
        result: dict[str, Any] = {"event_id": self.event_id, "status": self.status}
        if self.rejection is not None:
            result["problem"] = problem(
                self.rejection.code, self.rejection.detail, pointer=f"/actions/{self.index}"
            )
        return result


def parse_batch(body: bytes, max_batch: int) -> list[Any]:
    """The raw items of a batch; raises for a body that is not JSON of the batch's shape."""
    try:
        doc = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise MalformedJson(f"the body is not JSON: {exc}") from exc
    if not isinstance(doc, dict) or set(doc) != {"actions"} or not isinstance(doc["actions"], list):
        raise InvalidRequest('the body must be {"actions": [ACTION, ...]}')
    items = doc["actions"]
    if not 1 <= len(items) <= max_batch:
        raise BatchTooLarge(f"a batch holds 1 to {max_batch} actions; this one holds {len(items)}")
    return items


async def report_actions(platform: Platform, signed: SignedRequest) -> dict[str, Any]:
    """Decide every item of the batch; accepted ones are committed before this returns."""
    settings = platform.settings
    raw_items = parse_batch(signed.body, settings.max_batch)
    window = Window(
        now=datetime.now(UTC),
        max_age=timedelta(seconds=settings.max_action_age_s),
        max_future=timedelta(seconds=settings.max_action_future_s),
    )
    perms = signed.partner.permissions
    # JSON can only carry U+0000 escaped, so a body without that escape needs no per-item search.
    may_hold_nul = b"\\u0000" in signed.body
    decided = [_validate(raw, signed.partner_id, perms, window, may_hold_nul) for raw in raw_items]
    items, valid = _prepare(decided)
    if platform.pg is not None:
        await _record_pg(platform, platform.pg, signed.partner_id, valid)
    else:
        await platform.db.run(partial(_record, platform, partner_id=signed.partner_id, valid=valid))
    results = [item.as_result() for item in items]
    counts = {s: sum(1 for i in items if i.status == s) for s in ("accepted", "duplicate", "rejected")}
    return {
        "results": results,
        "accepted": counts["accepted"],
        "duplicates": counts["duplicate"],
        "rejected": counts["rejected"],
    }


def _validate(
    raw: Any, partner_id: str, perms: Permissions, window: Window, may_hold_nul: bool
) -> Action | Rejection:
    decided = validate_action(raw, partner_id, perms, window)
    if may_hold_nul and contains_nul(raw):  # a client must not be able to cause a 500
        return Rejection("invalid-action", "strings must not contain U+0000", decided.event_id)
    return decided


@dataclass(slots=True)
class _Valid:
    """A valid action of the batch, with its canonical content and that content's hash."""

    item: _Item
    action: Action
    content: dict[str, Any]
    digest: str


@dataclass(slots=True)
class _Sorted:
    """The valid actions of a bound, consenting user: the first occurrence of each event id in the
    batch (what may be inserted) and the later ones, judged against the first."""

    firsts: dict[str, tuple[_Valid, str]] = field(default_factory=dict)  # event id -> (action, citizen)
    repeats: list[_Valid] = field(default_factory=list)


def _prepare(decided: list[Action | Rejection]) -> tuple[list[_Item], list[_Valid]]:
    items = [_Item(i, d.event_id) for i, d in enumerate(decided)]
    valid = []
    for item, d in zip(items, decided, strict=True):
        if isinstance(d, Rejection):
            item.rejection = d
            continue
        content = canonical_content(d)
        valid.append(_Valid(item, d, content, content_hash(d, content)))
    return items, valid


def _sort(valid: list[_Valid], citizens: dict[str, tuple[str, bool]]) -> _Sorted:
    """Rejects the actions of unbound users and of withdrawn consents; sorts the rest."""
    out = _Sorted()
    for v in valid:
        d = v.action
        v.item.status, v.item.rejection = "rejected", None  # a rerun of the use case starts afresh
        bound = citizens.get(d.user)
        if bound is None:
            v.item.rejection = Rejection(
                "unbound-user", f"user {d.user!r} is not bound; bind it first", d.event_id
            )
        elif bound[1]:
            v.item.rejection = Rejection(
                "consent-withdrawn", "the citizen withdrew consent for this partner", d.event_id
            )
        elif d.event_id in out.firsts:
            out.repeats.append(v)
        else:
            out.firsts[d.event_id] = (v, bound[0])
    return out


def _judge(batch: _Sorted, inserted: set[str], existing: dict[str, str]) -> list[Accepted]:
    """Every item's status; the actions this batch inserted, in batch order."""
    fresh = []
    for event_id, (v, citizen_id) in batch.firsts.items():
        if event_id in inserted:
            v.item.status = "accepted"
            fresh.append(Accepted(citizen_id, v.action))
        else:
            _judge_repeat(v.item, v.digest, existing[event_id])
    for v in batch.repeats:
        _judge_repeat(v.item, v.digest, batch.firsts[v.action.event_id][0].digest)
    return fresh


async def _record(platform: Platform, tx: Tx, *, partner_id: str, valid: list[_Valid]) -> None:
    users = {v.action.user for v in valid}
    batch = _sort(valid, await repo.bound_citizens(tx.conn, partner_id, users))
    rows = [
        _row(v.action, v.content, citizen, v.digest, tx.started_at) for v, citizen in batch.firsts.values()
    ]
    inserted = await repo.insert_new_actions(tx.conn, rows)
    existing = await repo.content_hashes(tx.conn, partner_id, batch.firsts.keys() - inserted)
    fresh = _judge(batch, inserted, existing)
    if fresh:
        tx.after_commit(partial(announce, platform, fresh))


async def _record_pg(platform: Platform, pg: HotPool, partner_id: str, valid: list[_Valid]) -> None:
    """The PostgreSQL hot path: bindings, insert and earlier contents in one autocommitted statement."""
    if not valid:
        return
    found = await pg_intake.record(pg, partner_id, [_wire(v) for v in valid])
    batch = _sort(valid, found.citizens)
    existing = dict(found.existing)
    # A conflicting row committed after the statement's snapshot was taken is not in it.
    unseen = batch.firsts.keys() - found.inserted - existing.keys()
    if unseen:
        existing.update(await pg_intake.content_hashes(pg, partner_id, unseen))
    fresh = _judge(batch, found.inserted, existing)
    if fresh:
        await announce_together(platform, fresh)


def _judge_repeat(item: _Item, digest: str, first_digest: str) -> None:
    if digest == first_digest:
        item.status = "duplicate"
    else:
        item.rejection = Rejection(
            "event-conflict", f"event_id {item.event_id!r} was accepted with different content", item.event_id
        )


def _wire(v: _Valid) -> dict[str, Any]:
    a = v.action
    return {
        "e": a.event_id,
        "u": a.user,
        "t": a.type,
        "o": a.occurred_at,
        "r": a.region,
        "b": book_of(a.region),
        "d": v.content["data"],
        "h": v.digest,
    }


def _row(
    action: Action, content: dict[str, Any], citizen_id: str, digest: str, now: datetime
) -> dict[str, Any]:
    return {
        "partner_id": action.partner_id,
        "event_id": action.event_id,
        "citizen_id": citizen_id,
        "user": action.user,
        "type": action.type,
        "occurred_at": action.occurred_at,
        "region": action.region,
        "book": book_of(action.region),
        "data": content["data"],
        "content_hash": digest,
        "received_at": now,
    }
