"""Use cases of the partner API. The only place where its transactions open."""

from __future__ import annotations

import secrets
import time
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

import orjson
from pydantic import BaseModel, ValidationError

from backend import audit
from backend.auth.signed import SignedRequest
from backend.context import Platform
from backend.crypto import keyed_hash
from backend.db import Tx
from backend.errors import (
    ActionNotFound,
    BindingConflict,
    InvalidAction,
    InvalidRequest,
    MalformedJson,
    UnboundUser,
)
from backend.ids import new_id
from backend.partner_api import repository as repo
from backend.partner_api.intake import report_actions
from backend.partner_api.schemas import (
    BindingCreate,
    BindingRead,
    CitizenTokenCreate,
    CitizenTokenRead,
    OutcomeRead,
    QuoteRead,
    WebhookRead,
    WebhookUpdate,
)
from backend.settlement import repository as settlement_repo
from points_engine.intake import EVENT_ID, Rejection, Window, validate_body
from points_engine.methodologies import assess

M = TypeVar("M", bound=BaseModel)

__all__ = [
    "action_outcome",
    "bind_user",
    "delete_webhook",
    "issue_citizen_token",
    "quote",
    "report_actions",
    "set_webhook",
]


def parse(model: type[M], body: bytes) -> M:
    """A small JSON body validated against its wire model; 400 or 422 problems otherwise."""
    try:
        doc = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise MalformedJson(f"the body is not JSON: {exc}") from exc
    try:
        return model.model_validate(doc)
    except ValidationError as exc:
        errors = [{"pointer": "/" + "/".join(map(str, e["loc"])), "detail": e["msg"]} for e in exc.errors()]
        raise InvalidRequest(f"{errors[0]['pointer']}: {errors[0]['detail']}", errors=errors) from exc


async def bind_user(platform: Platform, signed: SignedRequest) -> BindingRead:
    """Bind a partner's user to the citizen owning the mobile number (one citizen across partners)."""
    req = parse(BindingCreate, signed.body)
    mobile_hash = keyed_hash(platform.pii_hash_key(), req.mobile)

    async def use_case(tx: Tx) -> BindingRead:
        existing = await repo.binding_of(tx.conn, signed.partner_id, req.user)
        if existing is None:
            citizen_id = await repo.citizen_by_mobile(tx.conn, mobile_hash, new_id("c"), tx.started_at)
            if await repo.insert_binding(tx.conn, signed.partner_id, req.user, citizen_id, tx.started_at):
                return BindingRead(citizen_id=citizen_id, created=True)
            existing = await repo.binding_of(tx.conn, signed.partner_id, req.user)
        if existing.mobile_hash != mobile_hash:
            raise BindingConflict(f"user {req.user!r} is bound to a different mobile number")
        return BindingRead(citizen_id=existing.citizen_id, created=False)

    result: BindingRead = await platform.db.run(use_case)
    return result


async def action_outcome(platform: Platform, partner_id: str, event_id: str) -> OutcomeRead:
    """The outcome of one accepted action of this partner (``pending`` until it settles)."""
    if not EVENT_ID.fullmatch(event_id):  # never accepted (and U+0000 would fail the query)
        raise ActionNotFound(f"no action {event_id!r} was accepted from partner {partner_id!r}")
    async with platform.db.read() as conn:
        settled = await settlement_repo.outcome_row(conn, partner_id, event_id)
        if settled is not None:
            outcome = settlement_repo.outcome_of(settled)
            return OutcomeRead(**settlement_repo.outcome_document(event_id, settled.citizen_id, outcome))
        row = await repo.accepted_action(conn, partner_id, event_id)
    if row is None:
        raise ActionNotFound(f"no action {event_id!r} was accepted from partner {partner_id!r}")
    return OutcomeRead(
        event_id=row.event_id,
        status="pending",
        citizen_id=row.citizen_id,
        reduction_g=0,
        points=0,
        methodology=None,
        book=row.book,
        reasons=[],
    )


async def issue_citizen_token(platform: Platform, signed: SignedRequest) -> CitizenTokenRead:
    """A short-lived JWT for the citizen behind a bound user, for the partner's mini-program."""
    req = parse(CitizenTokenCreate, signed.body)
    async with platform.db.read() as conn:
        binding = await repo.binding_of(conn, signed.partner_id, req.user)
    if binding is None or binding.consent_withdrawn_at is not None:
        raise UnboundUser(f"user {req.user!r} is not bound to a citizen for this partner")
    ttl = platform.settings.citizen_token_ttl_s
    token = platform.tokens.mint(
        binding.citizen_id, "citizen", ttl, int(time.time()), partner=signed.partner_id
    )
    return CitizenTokenRead(access_token=token, expires_in=ttl)


async def quote(platform: Platform, signed: SignedRequest) -> QuoteRead:
    """What one action would earn before caps; books nothing."""
    try:
        raw: Any = orjson.loads(signed.body)
    except orjson.JSONDecodeError as exc:
        raise MalformedJson(f"the body is not JSON: {exc}") from exc
    settings = platform.settings
    window = Window(
        now=datetime.now(UTC),
        max_age=timedelta(seconds=settings.max_action_age_s),
        max_future=timedelta(seconds=settings.max_action_future_s),
    )
    body = validate_body(raw, signed.partner.permissions, window)
    if isinstance(body, Rejection):
        raise _rejection_error(body)
    assessment = assess(body, await platform.methodologies.catalog())
    return QuoteRead(
        reduction_g=assessment.reduction_g, points=assessment.points, methodology=assessment.methodology
    )


def _rejection_error(rejection: Rejection) -> InvalidAction:
    return InvalidAction(rejection.detail, code=rejection.code)


async def set_webhook(platform: Platform, signed: SignedRequest) -> WebhookRead:
    """Register (or replace) the callback URL; a new signing secret is issued and shown once."""
    req = parse(WebhookUpdate, signed.body)
    secret = "whsec_" + secrets.token_hex(24)
    sealed = platform.box.seal(secret, f"webhook:{signed.partner_id}")

    async def use_case(tx: Tx) -> None:
        await repo.set_webhook(tx.conn, signed.partner_id, req.url, sealed)
        await audit.record(
            tx,
            f"partner:{signed.partner_id}",
            "partner.webhook-set",
            f"partner:{signed.partner_id}",
            {"url": req.url},
        )
        tx.after_commit(lambda: platform.partners.invalidate(signed.partner_id))

    await platform.db.run(use_case)
    return WebhookRead(url=req.url, secret=secret)


async def delete_webhook(platform: Platform, signed: SignedRequest) -> None:
    async def use_case(tx: Tx) -> None:
        await repo.set_webhook(tx.conn, signed.partner_id, None, None)
        await audit.record(
            tx,
            f"partner:{signed.partner_id}",
            "partner.webhook-set",
            f"partner:{signed.partner_id}",
            {"url": None},
        )
        tx.after_commit(lambda: platform.partners.invalidate(signed.partner_id))

    await platform.db.run(use_case)
