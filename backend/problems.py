"""The only table from error code to HTTP status, and the only exception handler.

Every error leaves as ``application/problem+json`` (RFC 9457) with a stable ``type``
URI ``https://tanhui.example/problems/<code>``.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from psycopg_pool import PoolTimeout as HotPoolTimeout
from sqlalchemy.exc import TimeoutError as PoolTimeout
from starlette.exceptions import HTTPException as StarletteHTTPException

from backend.errors import AppError
from points_engine.errors import EngineError

log = logging.getLogger(__name__)

TYPE_BASE = "https://tanhui.example/problems/"
MEDIA_TYPE = "application/problem+json"

# code: (status, title). Part of the contract: codes never change meaning.
PROBLEMS: dict[str, tuple[int, str]] = {
    # authentication of partners (contract: "Signing every request")
    "missing-authorization": (401, "The request is not signed"),
    "malformed-authorization": (401, "The Authorization header is malformed"),
    "stale-timestamp": (401, "The timestamp is more than 300 s from the server's clock"),
    "bad-nonce": (401, "The nonce must be 16-64 characters of [A-Za-z0-9]"),
    "replayed-nonce": (401, "The nonce was seen within the last 600 s"),
    "unknown-partner-or-key": (401, "No such partner or key"),
    "revoked-key": (401, "The key has been revoked"),
    "bad-signature": (401, "The signature does not match the request"),
    # authentication of people (JWT) and roles
    "invalid-token": (401, "The bearer token is missing, expired or invalid"),
    "forbidden": (403, "This role may not do that"),
    # the request as a whole
    "malformed-json": (400, "The body is not valid JSON"),
    "body-too-large": (413, "The body is larger than 1 MiB"),
    "invalid-request": (422, "The request does not have the documented shape"),
    "batch-too-large": (422, "A batch holds 1 to 1,000 actions"),
    "not-found": (404, "No such resource"),
    "method-not-allowed": (405, "Method not allowed"),
    # one action of a batch (also the whole answer of a quote)
    "invalid-action": (422, "The action does not have the documented shape"),
    "unknown-type": (422, "Unknown action type"),
    "unknown-region": (422, "The region is not a division of Shantou"),
    "forbidden-type": (403, "The partner may not report this type"),
    "forbidden-region": (403, "The partner may not report in this region"),
    "occurred-at-out-of-window": (422, "occurred_at is more than 300 s ahead or older than 7 days"),
    "unbound-user": (422, "The user is not bound to a citizen"),
    "event-conflict": (409, "The event_id was accepted before with different content"),
    "consent-withdrawn": (403, "The citizen has withdrawn consent for this partner"),
    "unknown-methodology-version": (422, "No methodology version was in force at occurred_at"),
    # resources
    "action-not-found": (404, "No action with this event_id was accepted from this partner"),
    "binding-conflict": (409, "The user is already bound to a different mobile number"),
    "partner-exists": (409, "A partner with this id exists"),
    "unknown-partner": (404, "No such partner"),
    "unknown-key": (404, "No such key"),
    "too-many-keys": (409, "Two keys are active already: revoke one first"),
    "invalid-methodology": (422, "The methodology version may not be published"),
    "invalid-audit-event": (422, "The change cannot be recorded in the audit log"),
    "methodology-exists": (409, "A methodology version of this name exists"),
    "methodology-not-found": (404, "No such methodology version"),
    # certification, reviews and the registry (docs/certification.md, docs/registry.md)
    "invalid-period": (422, "The period is not a month YYYY-MM"),
    "period-not-begun": (422, "The period has not begun"),
    "nothing-to-certify": (409, "Nothing new has settled in this book and period since its last run"),
    "unknown-run": (404, "No such certification run"),
    "action-not-certified": (404, "The action is in no certification run"),
    "not-reviewable": (409, "The action is not flagged for review"),
    "already-reviewed": (409, "The action has been reviewed already"),
    "unknown-range": (404, "No such serial range"),
    "invalid-serial": (422, "Not a serial range TH-{BOOK}-{VINTAGE}-{RUN}-{START}-{END}"),
    "range-not-active": (409, "The range is retired or has been split: it cannot move"),
    "tonnes-outside-range": (422, "The tonnes are not inside the range"),
    "unknown-account": (404, "No such registry account"),
    "account-exists": (409, "A registry account of this id exists"),
    "cross-book": (409, "The operation would move credits between books or count a tonne twice"),
    "invalid-target": (422, "The target is not a positive number of whole tonnes for a year"),
    # merchants, offers and redemptions (docs/redemption.md)
    "merchant-exists": (409, "A merchant with this id exists"),
    "unknown-merchant": (404, "No such merchant"),
    "staff-disabled": (403, "The staff member or their merchant may no longer redeem"),
    "unknown-offer": (404, "No such offer"),
    "invalid-offer": (422, "The offer's terms are not valid"),
    "offer-unavailable": (409, "The offer is paused or retired"),
    "offer-out-of-window": (409, "The offer may not be reserved at this time"),
    "out-of-stock": (409, "The offer is out of stock"),
    "per-citizen-limit": (409, "The citizen holds or has redeemed as many units as one citizen may"),
    "insufficient-points": (409, "Not enough available points (pending points cannot be spent)"),
    "idempotency-conflict": (409, "The Idempotency-Key was used before for a different request"),
    "unknown-reservation": (404, "No such reservation"),
    "not-cancellable": (409, "Only a reservation not yet redeemed or voided can be cancelled"),
    "invalid-code": (422, "Not a redemption code signed by Tanhui"),
    "unknown-code": (404, "No live reservation has this short code"),
    "code-expired": (410, "The redemption code has expired; the reservation is void"),
    "code-used": (409, "The redemption code has been used, cancelled or voided"),
    "foreign-code": (403, "The code is for another merchant's offer"),
    "not-reversible": (409, "Only a redeemed, unreversed redemption can be reversed"),
    "reversal-window-closed": (409, "The redemption is older than the reversal window"),
    "invalid-statement-range": (422, "Statements are listed for at most 92 days, from <= to"),
    # citizens' personal data (docs/privacy.md)
    "open-reservations": (409, "Points are held by a reservation: redeem or cancel it first"),
    "citizen-deleted": (410, "The citizen deleted their account"),
    # campaigns (docs/campaigns.md)
    "invalid-campaign": (422, "The campaign or its budget breaks a campaign rule"),
    "unknown-campaign": (404, "No such campaign"),
    "campaign-exists": (409, "A campaign with this id exists"),
    "campaign-ended": (409, "The campaign has ended: it grants nothing more"),
    # load
    "overloaded": (503, "The platform is at capacity; retry after the Retry-After seconds"),
    # never for anything a client can send
    "invariant-violation": (500, "Internal error"),
    "internal": (500, "Internal error"),
}


def problem(code: str, detail: str, **extra: Any) -> dict[str, Any]:
    """A problem document for ``code`` (also used for the items of a batch)."""
    status, title = PROBLEMS[code]
    return {"type": TYPE_BASE + code, "title": title, "status": status, "detail": detail, **extra}


def problem_response(request: Request, code: str, detail: str, **extra: Any) -> JSONResponse:
    body = problem(code, detail, instance=_request_id(request), **extra)
    return JSONResponse(body, status_code=body["status"], media_type=MEDIA_TYPE)


def _request_id(request: Request) -> str:
    rid = getattr(request.state, "request_id", None)
    return f"urn:tanhui:request:{rid or uuid.uuid4().hex}"


async def _app_error(request: Request, exc: AppError) -> JSONResponse:
    return problem_response(request, exc.code, exc.detail, **exc.extra)


async def _engine_error(request: Request, exc: EngineError) -> JSONResponse:
    if exc.code not in PROBLEMS or PROBLEMS[exc.code][0] >= 500:
        log.error("engine error %s: %s", exc.code, exc.detail)
        return problem_response(request, "internal", "an internal error occurred")
    return problem_response(request, exc.code, exc.detail)


async def _overloaded(request: Request, exc: Exception) -> JSONResponse:
    # Every database connection stayed busy for the pool's whole timeout: shed the request
    # with a clean answer (nothing was written) rather than a 500.
    log.warning("database pool exhausted: %s", exc)
    response = problem_response(request, "overloaded", "every database connection is busy; retry shortly")
    response.headers["retry-after"] = "1"
    return response


async def _validation(request: Request, exc: RequestValidationError) -> JSONResponse:
    errors = [
        {"pointer": "/" + "/".join(str(p) for p in err.get("loc", ())[1:]), "detail": err.get("msg", "")}
        for err in exc.errors()
    ]
    first = errors[0] if errors else {"pointer": "/", "detail": "invalid"}
    detail = f"{first['pointer']}: {first['detail']}"
    if any(err.get("type") == "json_invalid" for err in exc.errors()):
        return problem_response(request, "malformed-json", f"the body is not JSON: {detail}")
    return problem_response(request, "invalid-request", detail, errors=errors)


async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
    code = {404: "not-found", 405: "method-not-allowed"}.get(exc.status_code)
    if code is None:
        code = "invalid-request" if exc.status_code < 500 else "internal"
    response = problem_response(request, code, str(exc.detail))
    response.headers.update(exc.headers or {})  # e.g. Allow, which a 405 must carry (RFC 9110)
    return response


async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
    log.exception("unexpected error (request %s)", _request_id(request))
    return problem_response(request, "internal", "an internal error occurred")


_Handler = Callable[[Request, Any], Awaitable[JSONResponse]]
# Expected errors; anything else is _unexpected's (Starlette calls that handler outermost).
_HANDLERS: dict[type[Exception], _Handler] = {
    AppError: _app_error,
    EngineError: _engine_error,
    PoolTimeout: _overloaded,
    HotPoolTimeout: _overloaded,
    RequestValidationError: _validation,
    StarletteHTTPException: _http,
}


def install(app: FastAPI) -> None:
    """Route every exception through the table above."""
    for exc_type, handler in _HANDLERS.items():
        app.add_exception_handler(exc_type, handler)
    app.add_exception_handler(Exception, _unexpected)


async def handle(request: Request, exc: Exception) -> JSONResponse | None:
    """The answer ``install``'s handlers give to an expected ``exc``, for routes served outside
    FastAPI's routing; None for an unexpected one (to be raised on, to the app's 500 handler)."""
    for cls in type(exc).__mro__:  # the most specific handler, as Starlette picks it
        handler = _HANDLERS.get(cls)
        if handler is not None:
            return await handler(request, exc)
    return None
