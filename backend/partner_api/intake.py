"""Accepting a batch of actions: the hot path of intake.

One transaction per batch: bound users are looked up once, new actions are inserted
in one statement (ON CONFLICT DO NOTHING on (partner_id, event_id)), and the ids
that already existed are told apart as retries (same content) or conflicts. After the
commit, the new ones go to the settlement streams (a lost publish is swept up later).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import partial
from typing import Any

import orjson

from backend.auth.signed import SignedRequest
from backend.context import Platform
from backend.db import Tx
from backend.errors import BatchTooLarge, InvalidRequest, MalformedJson
from backend.partner_api import repository as repo
from backend.problems import problem
from backend.settlement.publisher import publish
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

    async def use_case(tx: Tx) -> list[_Item]:
        return await _record(platform, tx, signed.partner_id, decided)

    items = await platform.db.run(use_case)
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


async def _record(
    platform: Platform, tx: Tx, partner_id: str, decided: list[Action | Rejection]
) -> list[_Item]:
    items = [_Item(i, d.event_id) for i, d in enumerate(decided)]
    users = {d.user for d in decided if isinstance(d, Action)}
    citizens = await repo.bound_citizens(tx.conn, partner_id, users)

    candidates: dict[str, tuple[_Item, str]] = {}  # first occurrence of each event id in this batch
    repeats: list[tuple[_Item, str]] = []  # later occurrences, judged against the first
    rows: list[dict[str, Any]] = []
    firsts: list[Accepted] = []
    for item, d in zip(items, decided, strict=True):
        if isinstance(d, Rejection):
            item.rejection = d
            continue
        bound = citizens.get(d.user)
        if bound is None:
            item.rejection = Rejection(
                "unbound-user", f"user {d.user!r} is not bound; bind it first", d.event_id
            )
            continue
        if bound[1]:
            item.rejection = Rejection(
                "consent-withdrawn", "the citizen withdrew consent for this partner", d.event_id
            )
            continue
        content = canonical_content(d)
        digest = content_hash(d, content)
        if d.event_id in candidates:
            repeats.append((item, digest))
            continue
        candidates[d.event_id] = (item, digest)
        rows.append(_row(d, content, bound[0], digest, tx.started_at))
        firsts.append(Accepted(bound[0], d))

    inserted = await repo.insert_new_actions(tx.conn, rows)
    fresh = [a for a in firsts if a.action.event_id in inserted]
    if fresh:
        partitions = platform.settings.settle_partitions
        tx.after_commit(partial(publish, platform.redis, platform.keys, partitions, fresh))
    existing = await repo.content_hashes(tx.conn, partner_id, candidates.keys() - inserted)
    for event_id, (item, digest) in candidates.items():
        if event_id in inserted:
            item.status = "accepted"
        else:
            _judge_repeat(item, digest, existing[event_id])
    for item, digest in repeats:
        _judge_repeat(item, digest, candidates[item.event_id or ""][1])
    return items


def _judge_repeat(item: _Item, digest: str, first_digest: str) -> None:
    if digest == first_digest:
        item.status = "duplicate"
    else:
        item.rejection = Rejection(
            "event-conflict", f"event_id {item.event_id!r} was accepted with different content", item.event_id
        )


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
