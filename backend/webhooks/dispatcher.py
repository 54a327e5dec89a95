"""Delivering webhooks from the outbox: signed, retried with backoff, at least once.

A round claims the due rows under a lease (two dispatchers never send one row at the same time),
POSTs ``{"type": kind, "data": payload}`` to each partner's webhook, a bounded number at once, and
records every outcome in one transaction. A crash between a POST and its record sends it again
once the lease runs out: deliveries are at least once, and receivers dedupe by ``event_id``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import httpx
import orjson

from backend.context import Platform
from backend.crypto import SecretBox
from backend.db import Tx
from backend.webhooks import outbox
from backend.webhooks.outbox import Claimed, Outcome
from backend.webhooks.schedule import next_attempt
from backend.webhooks.signing import authorization

log = logging.getLogger(__name__)

BATCH = 200
CONCURRENCY = 20
REQUEST_TIMEOUT_S = 10.0
NO_WEBHOOK = "no webhook registered"
_MIN_LEASE = timedelta(seconds=60)
_JSON = {"content-type": "application/json"}


@dataclass(frozen=True, slots=True)
class DeliveryRound:
    """What one round did: rows claimed, POSTs sent, answered 2xx, failed and scheduled again,
    and given up (a failure after 24 h of retries, or no webhook registered any more)."""

    claimed: int = 0
    sent: int = 0
    delivered: int = 0
    failed: int = 0
    gave_up: int = 0


def lease_for(limit: int) -> timedelta:
    """Longer than a round of ``limit`` rows can last, even if every request waits out its timeout."""
    waves = -(-limit // CONCURRENCY)
    return max(_MIN_LEASE, timedelta(seconds=waves * REQUEST_TIMEOUT_S + 30))


def new_client() -> httpx.AsyncClient:
    """The HTTP client deliveries go through: no redirects (a 3xx is a failure), a 10 s timeout."""
    return httpx.AsyncClient(
        timeout=REQUEST_TIMEOUT_S,
        follow_redirects=False,
        limits=httpx.Limits(max_connections=CONCURRENCY),
        headers={"user-agent": "tanhui-webhooks/1"},
    )


async def deliver_due(
    platform: Platform, client: httpx.AsyncClient, *, now: datetime | None = None, limit: int = BATCH
) -> DeliveryRound:
    """Try every delivery due at ``now`` (at most ``limit``) once, and record what happened.

    ``now`` is the scheduling clock (which rows are due, when to retry, when to give up); it
    defaults to the real time, and signatures always carry the real time.
    """
    sender = _Sender(platform.box, client, datetime.now(UTC) if now is None else now)
    lease_until = sender.start + lease_for(limit)

    async def claim(tx: Tx) -> list[Claimed]:
        return await outbox.claim_due(tx.conn, sender.start, lease_until, limit)

    claimed: list[Claimed] = await platform.db.run(claim)
    if not claimed:
        return DeliveryRound()
    outcomes = await asyncio.gather(*(sender.attempt(row) for row in claimed))

    async def write(tx: Tx) -> None:
        await outbox.record(tx.conn, outcomes)

    await platform.db.run(write)
    done = _tally(outcomes)
    log.info("webhooks: %s", done)
    return done


async def run_dispatcher(platform: Platform, stop: asyncio.Event, *, interval_s: float = 1.0) -> None:
    """Deliver due webhooks until ``stop`` is set. A failed round is logged, and the loop goes on."""
    async with new_client() as client:
        while not stop.is_set():
            try:
                done = await deliver_due(platform, client)
            except Exception:
                log.exception("webhook delivery round failed")
                done = DeliveryRound()
            if done.claimed < BATCH:  # a full round means more may be due: go on at once
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), interval_s)


async def _post(client: httpx.AsyncClient, row: Claimed, url: str, secret: str) -> str | None:
    """None when the partner answered 2xx; otherwise what went wrong (never the secret or the URL)."""
    body = orjson.dumps({"type": row.kind, "data": row.payload})
    try:
        request = client.build_request("POST", url, content=body, headers=_JSON)
        path_query = request.url.raw_path.decode("ascii")  # exactly the target sent on the wire
        request.headers["authorization"] = authorization(row.partner_id, secret, "POST", path_query, body)
        async with asyncio.timeout(REQUEST_TIMEOUT_S):  # overall, not per read: a slow drip ends too
            response = await client.send(request, stream=True)
            await response.aclose()  # the answer's body is of no interest
    except (httpx.HTTPError, httpx.InvalidURL, TimeoutError) as exc:
        return type(exc).__name__
    return None if response.is_success else f"HTTP {response.status_code}"


class _Sender:
    """One round's sending: at most CONCURRENCY requests at once, each partner's secret opened once."""

    def __init__(self, box: SecretBox, client: httpx.AsyncClient, start: datetime) -> None:
        self.start, self._began = start, time.monotonic()
        self._box, self._client = box, client
        self._gate = asyncio.Semaphore(CONCURRENCY)
        self._secrets: dict[str, str] = {}

    async def attempt(self, row: Claimed) -> Outcome:
        if row.webhook_url is None or row.sealed_secret is None:
            return Outcome(row, attempted=False, delivered=False, at=self._now(), error=NO_WEBHOOK)
        async with self._gate:
            try:
                secret = self._secret(row.partner_id, row.sealed_secret)
                error = await _post(self._client, row, row.webhook_url, secret)
            except Exception as exc:  # one bad row must not hold back the rest of the round
                log.exception("webhook %s/%s could not be sent", row.partner_id, row.event_id)
                error = type(exc).__name__
        at = self._now()
        if error is None:
            return Outcome(row, attempted=True, delivered=True, at=at)
        retry = next_attempt(row.created_at, at, row.attempts + 1)
        return Outcome(row, attempted=True, delivered=False, at=at, error=error, next_attempt_at=retry)

    def _now(self) -> datetime:
        """The scheduling clock: the round's ``now`` plus the time the round has taken so far."""
        return self.start + timedelta(seconds=time.monotonic() - self._began)

    def _secret(self, partner_id: str, sealed: str) -> str:
        if partner_id not in self._secrets:
            self._secrets[partner_id] = self._box.open(sealed, f"webhook:{partner_id}")
        return self._secrets[partner_id]


def _tally(outcomes: list[Outcome]) -> DeliveryRound:
    sent = sum(o.attempted for o in outcomes)
    delivered = sum(o.delivered for o in outcomes)
    gave_up = sum(not o.delivered and o.next_attempt_at is None for o in outcomes)
    return DeliveryRound(
        claimed=len(outcomes),
        sent=sent,
        delivered=delivered,
        failed=len(outcomes) - delivered - gave_up,
        gave_up=gave_up,
    )
