"""Webhook delivery from the outbox: signed like a partner request, retried with exponential backoff
for at least 24 h until a 2xx, at least once, never sent by two dispatchers at the same time.

The partner's endpoint is a real HTTP server on 127.0.0.1; deliveries are checked with the SDK's
``verify_webhook``, as a partner would. ``now`` drives the schedule; signatures carry the real time.
"""

from __future__ import annotations

import asyncio
import json
import logging
import socket
import threading
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import pytest
from sqlalchemy import insert, select

from backend.admin_api import partners as partner_admin
from backend.context import Platform
from backend.webhooks import dispatcher, outbox
from backend.webhooks.dispatcher import DeliveryRound, deliver_due, run_dispatcher
from backend.webhooks.schedule import RETRY_WINDOW, backoff, next_attempt
from backend.webhooks.signing import authorization
from partners.sdk import verify_webhook
from tests.conftest import BACKEND
from tests.factories import make_partner

HOOK_PATH = "/hooks/tanhui?source=tanhui"


@dataclass(frozen=True)
class Received:
    path: str
    headers: dict[str, str]
    body: bytes


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 128  # the default 5 resets connections when 40 deliveries arrive at once


class Receiver:
    """A partner's webhook endpoint on a real socket: records every POST, answers as it is told."""

    def __init__(self) -> None:
        self.received: list[Received] = []
        self.delay_s = 0.0
        self._failures: list[int] = []
        self._lock = threading.Lock()
        self._server = _Server(("127.0.0.1", 0), self._handler())
        self._thread = threading.Thread(target=self._server.serve_forever, args=(0.05,), daemon=True)

    def url(self, path: str = HOOK_PATH) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}{path}"

    def fail_next(self, times: int, status: int = 500) -> None:
        with self._lock:
            self._failures.extend([status] * times)

    def event_ids(self) -> list[str]:
        return [json.loads(r.body)["data"]["event_id"] for r in self.received]

    def _answer(self, request: Received) -> int:
        with self._lock:
            self.received.append(request)
            return self._failures.pop(0) if self._failures else 200

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("content-length", "0")))
                status = receiver._answer(Received(self.path, dict(self.headers.items()), body))
                time.sleep(receiver.delay_s)
                self.send_response(status)
                self.send_header("content-length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                pass

        return Handler

    def __enter__(self) -> Receiver:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._server.shutdown()
        self._server.server_close()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with Receiver() as r:
        yield r


@pytest.fixture
async def client() -> AsyncIterator[httpx.AsyncClient]:
    async with dispatcher.new_client() as c:
        yield c


@pytest.fixture
def t0() -> datetime:
    return datetime.now(UTC).replace(microsecond=0)


async def partner_with_webhook(platform: Platform, url: str, partner_id: str = "transit_st") -> str:
    """A partner whose webhook is ``url``; returns the webhook secret."""
    await make_partner(platform, partner_id)
    secret = await partner_admin.set_webhook(platform, partner_id, url)
    assert secret is not None
    return secret


def settled(event_id: str) -> dict[str, Any]:
    return {
        "event_id": event_id,
        "status": "credited",
        "citizen_id": "c_0001",
        "reduction_g": 139,
        "points": 139,
        "methodology": "trip.bus@2026.1",
        "book": "shantou",
        "reasons": [],
    }


async def enqueue(
    platform: Platform, event_id: str, created_at: datetime, partner_id: str = "transit_st"
) -> None:
    """What settlement writes with the outcome: a row due at once."""
    async with platform.db.transaction() as tx:
        await tx.conn.execute(
            insert(outbox.DELIVERIES).values(
                partner_id=partner_id,
                event_id=event_id,
                kind="action.settled",
                payload=settled(event_id),
                attempts=0,
                next_attempt_at=created_at,
                created_at=created_at,
            )
        )


async def stored(platform: Platform, event_id: str, partner_id: str = "transit_st") -> Any:
    d = outbox.DELIVERIES.c
    async with platform.db.read() as conn:
        query = select(outbox.DELIVERIES).where(d.partner_id == partner_id, d.event_id == event_id)
        return (await conn.execute(query)).one()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class TestDeliverDue:
    async def test_a_due_delivery_is_posted_signed_and_marked_delivered(self, platform, client, receiver, t0):
        secret = await partner_with_webhook(platform, receiver.url())
        await enqueue(platform, "bus-1", t0)

        done = await deliver_due(platform, client, now=t0)

        assert done == DeliveryRound(claimed=1, sent=1, delivered=1)
        [request] = receiver.received
        assert request.path == HOOK_PATH
        assert request.headers["content-type"] == "application/json"
        assert 'partner="transit_st",key="webhook"' in request.headers["authorization"]
        delivered = verify_webhook(secret, "POST", request.path, request.headers, request.body)
        assert delivered == {"type": "action.settled", "data": settled("bus-1")}
        row = await stored(platform, "bus-1")
        assert (row.attempts, row.next_attempt_at, row.last_error) == (1, None, None)
        assert t0 <= row.delivered_at < t0 + timedelta(seconds=10)

    async def test_a_delivered_row_is_not_sent_again(self, platform, client, receiver, t0):
        await partner_with_webhook(platform, receiver.url())
        await enqueue(platform, "bus-1", t0)
        await deliver_due(platform, client, now=t0)

        again = await deliver_due(platform, client, now=t0 + timedelta(days=2))

        assert again == DeliveryRound() and len(receiver.received) == 1

    async def test_a_500_is_retried_later_with_attempts_counted_and_backoff_growing(
        self, platform, client, receiver, t0
    ):
        await partner_with_webhook(platform, receiver.url())
        await enqueue(platform, "bus-1", t0)
        receiver.fail_next(4)
        at, delays = t0, []

        for attempt in range(1, 5):
            assert await deliver_due(platform, client, now=at) == DeliveryRound(claimed=1, sent=1, failed=1)
            row = await stored(platform, "bus-1")
            assert (row.attempts, row.last_error, row.delivered_at) == (attempt, "HTTP 500", None)
            delays.append((row.next_attempt_at - at).total_seconds())
            at = row.next_attempt_at

        for attempt, delay in enumerate(delays, start=1):
            full = 5 * 2 ** (attempt - 1)
            assert 0.8 * full <= delay <= full + 1
        assert delays == sorted(delays) and delays[-1] > delays[0] * 4
        assert await deliver_due(platform, client, now=at) == DeliveryRound(claimed=1, sent=1, delivered=1)
        assert (await stored(platform, "bus-1")).attempts == 5
        assert receiver.event_ids() == ["bus-1"] * 5

    async def test_nothing_is_retried_before_its_next_attempt_at(self, platform, client, receiver, t0):
        await partner_with_webhook(platform, receiver.url())
        await enqueue(platform, "bus-1", t0)
        receiver.fail_next(1, status=503)
        await deliver_due(platform, client, now=t0)
        due = (await stored(platform, "bus-1")).next_attempt_at

        early = await deliver_due(platform, client, now=due - timedelta(seconds=1))
        on_time = await deliver_due(platform, client, now=due)

        assert early == DeliveryRound() and on_time.delivered == 1
        assert len(receiver.received) == 2

    async def test_a_failure_after_24_hours_of_retries_gives_up(self, platform, client, receiver, t0):
        await partner_with_webhook(platform, receiver.url())
        await enqueue(platform, "bus-1", t0)
        receiver.fail_next(10)
        await deliver_due(platform, client, now=t0)

        done = await deliver_due(platform, client, now=t0 + RETRY_WINDOW)

        assert done == DeliveryRound(claimed=1, sent=1, gave_up=1)
        row = await stored(platform, "bus-1")
        assert (row.attempts, row.next_attempt_at, row.delivered_at, row.last_error) == (
            2,
            None,
            None,
            "HTTP 500",
        )
        assert await deliver_due(platform, client, now=t0 + 2 * RETRY_WINDOW) == DeliveryRound()

    async def test_a_failure_just_before_24_hours_is_still_retried(self, platform, client, receiver, t0):
        await partner_with_webhook(platform, receiver.url())
        await enqueue(platform, "bus-1", t0)
        receiver.fail_next(1)
        at = t0 + RETRY_WINDOW - timedelta(minutes=1)

        assert await deliver_due(platform, client, now=at) == DeliveryRound(claimed=1, sent=1, failed=1)
        assert at < (await stored(platform, "bus-1")).next_attempt_at <= at + timedelta(hours=1)

    async def test_an_unreachable_webhook_is_a_failure_retried_later(self, platform, client, t0):
        await partner_with_webhook(platform, f"http://127.0.0.1:{free_port()}/hook")
        await enqueue(platform, "bus-1", t0)

        done = await deliver_due(platform, client, now=t0)

        assert done == DeliveryRound(claimed=1, sent=1, failed=1)
        row = await stored(platform, "bus-1")
        assert (row.attempts, row.last_error) == (1, "ConnectError") and row.next_attempt_at > t0

    async def test_an_endpoint_slower_than_the_timeout_is_a_failure(
        self, platform, client, receiver, t0, monkeypatch
    ):
        monkeypatch.setattr(dispatcher, "REQUEST_TIMEOUT_S", 0.2)
        receiver.delay_s = 1.0
        await partner_with_webhook(platform, receiver.url())
        await enqueue(platform, "bus-1", t0)

        assert (await deliver_due(platform, client, now=t0)).failed == 1
        assert (await stored(platform, "bus-1")).last_error == "TimeoutError"

    async def test_a_redirect_is_a_failure(self, platform, client, receiver, t0):
        await partner_with_webhook(platform, receiver.url())
        await enqueue(platform, "bus-1", t0)
        receiver.fail_next(1, status=301)

        assert (await deliver_due(platform, client, now=t0)).failed == 1
        assert (await stored(platform, "bus-1")).last_error == "HTTP 301"

    async def test_a_partner_whose_webhook_was_deleted_gives_the_delivery_up(
        self, platform, client, receiver, t0
    ):
        await partner_with_webhook(platform, receiver.url())
        await enqueue(platform, "bus-1", t0)
        await partner_admin.set_webhook(platform, "transit_st", None)

        done = await deliver_due(platform, client, now=t0)

        assert done == DeliveryRound(claimed=1, gave_up=1) and receiver.received == []
        row = await stored(platform, "bus-1")
        assert (row.attempts, row.next_attempt_at, row.last_error) == (0, None, "no webhook registered")

    async def test_each_partner_gets_its_deliveries_signed_with_its_own_secret(
        self, platform, client, receiver, t0
    ):
        secrets = {
            p: await partner_with_webhook(platform, receiver.url(f"/{p}"), p) for p in ("bus_a", "bike_b")
        }
        await enqueue(platform, "a-1", t0, partner_id="bus_a")
        await enqueue(platform, "b-1", t0, partner_id="bike_b")

        assert (await deliver_due(platform, client, now=t0)).delivered == 2

        for request in receiver.received:
            partner_id = request.path.removeprefix("/")
            assert f'partner="{partner_id}"' in request.headers["authorization"]
            verify_webhook(secrets[partner_id], "POST", request.path, request.headers, request.body)

    async def test_a_round_sends_at_most_limit_deliveries_oldest_due_first(
        self, platform, client, receiver, t0
    ):
        await partner_with_webhook(platform, receiver.url())
        for n in range(5):
            await enqueue(platform, f"bus-{n}", t0 - timedelta(seconds=n))

        assert (await deliver_due(platform, client, now=t0, limit=2)).sent == 2
        assert sorted(receiver.event_ids()) == ["bus-3", "bus-4"]


class TestConcurrentDispatchers:
    async def test_two_dispatchers_at_once_send_each_delivery_once(self, platform, receiver, t0):
        await partner_with_webhook(platform, receiver.url())
        for n in range(40):
            await enqueue(platform, f"bus-{n:02d}", t0)
        receiver.delay_s = 0.01

        async with dispatcher.new_client() as one, dispatcher.new_client() as two:
            rounds = await asyncio.gather(
                deliver_due(platform, one, now=t0, limit=25), deliver_due(platform, two, now=t0, limit=25)
            )

        assert sum(r.delivered for r in rounds) == 40
        assert sorted(receiver.event_ids()) == [f"bus-{n:02d}" for n in range(40)]

    @pytest.mark.skipif(BACKEND != "postgres", reason="SKIP LOCKED; SQLite has one writer at a time")
    async def test_rows_locked_by_a_claim_in_progress_are_skipped_not_waited_for(self, platform, t0):
        await make_partner(platform)
        for n in range(3):
            await enqueue(platform, f"bus-{n}", t0)
        lease = t0 + timedelta(minutes=1)

        async with platform.db.transaction() as first:
            mine = await outbox.claim_due(first.conn, t0, lease, limit=2)
            async with platform.db.transaction() as second:
                theirs = await asyncio.wait_for(outbox.claim_due(second.conn, t0, lease, limit=10), 5)

        assert len(mine) == 2 and len(theirs) == 1
        assert {r.event_id for r in mine}.isdisjoint(r.event_id for r in theirs)

    async def test_a_claimed_row_is_not_due_again_until_its_lease_ends(self, platform, t0):
        await make_partner(platform)
        await enqueue(platform, "bus-1", t0)
        lease = t0 + timedelta(minutes=1)
        async with platform.db.transaction() as tx:
            assert len(await outbox.claim_due(tx.conn, t0, lease, limit=10)) == 1

        async with platform.db.transaction() as tx:
            assert await outbox.claim_due(tx.conn, lease - timedelta(seconds=1), lease, limit=10) == []
            assert len(await outbox.claim_due(tx.conn, lease, lease, limit=10)) == 1


class TestRunDispatcher:
    async def test_the_dispatcher_delivers_what_becomes_due_until_stopped(self, platform, receiver):
        await partner_with_webhook(platform, receiver.url())
        stop = asyncio.Event()
        task = asyncio.create_task(run_dispatcher(platform, stop, interval_s=0.05))

        await enqueue(platform, "bus-1", datetime.now(UTC))
        await wait_until(lambda: len(receiver.received) == 1)
        stop.set()

        await asyncio.wait_for(task, 5)
        assert (await stored(platform, "bus-1")).delivered_at is not None

    async def test_a_failing_round_is_logged_and_the_dispatcher_goes_on(
        self, platform, receiver, monkeypatch, caplog
    ):
        await partner_with_webhook(platform, receiver.url())
        await enqueue(platform, "bus-1", datetime.now(UTC))
        calls = 0

        async def flaky(*args: Any, **kwargs: Any) -> DeliveryRound:
            nonlocal calls
            calls += 1
            if calls == 1:
                raise RuntimeError("the database went away")
            return await deliver_due(*args, **kwargs)

        monkeypatch.setattr(dispatcher, "deliver_due", flaky)
        stop = asyncio.Event()
        with caplog.at_level(logging.ERROR, logger=dispatcher.__name__):
            task = asyncio.create_task(run_dispatcher(platform, stop, interval_s=0.05))
            await wait_until(lambda: len(receiver.received) == 1)
            stop.set()
            await asyncio.wait_for(task, 5)

        assert "webhook delivery round failed" in caplog.text and calls >= 2


async def wait_until(condition: Any, timeout_s: float = 5.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        await asyncio.sleep(0.02)


class TestSchedule:
    def test_the_delay_starts_at_5_s_and_doubles(self):
        assert [backoff(n, rng=lambda: 0.0).total_seconds() for n in range(1, 6)] == [5, 10, 20, 40, 80]

    def test_the_delay_never_passes_an_hour(self):
        assert backoff(11, rng=lambda: 0.0) == timedelta(hours=1)
        assert backoff(10_000, rng=lambda: 0.0) == timedelta(hours=1)

    def test_jitter_shortens_a_delay_by_at_most_a_fifth(self):
        assert backoff(1, rng=lambda: 1.0) == timedelta(seconds=4)
        assert backoff(12, rng=lambda: 0.5) == timedelta(minutes=54)

    def test_a_failure_once_retried_for_24_hours_gives_up(self, t0):
        assert next_attempt(t0, t0 + RETRY_WINDOW, 30) is None
        assert next_attempt(t0, t0 + RETRY_WINDOW - timedelta(seconds=1), 30) is not None


class TestSigning:
    def test_the_signature_is_the_contracts_request_signature(self):
        body = (
            b'{"actions":[{"event_id":"bus-20261124-000001","user":"wx_o6_demo_0001","type":"trip",'
            b'"occurred_at":"2026-11-24T08:15:00+08:00","region":"440507",'
            b'"data":{"mode":"bus","distance_m":5200,"duration_s":1380}}]}'
        )
        header = authorization(
            "transit_st",
            "tsk_live_3f9a1c7e5b2d4f6a8c0e1b3d5f7a9c2e",
            "POST",
            "/v1/partner/actions",
            body,
            timestamp=1795997700,
            nonce="n0nce8f3a9c2b1d4e5f",
        )
        assert header.endswith('signature="HkvUWOc5OsLUMK8NmS3et7v7orV2dQO5OEopwaEZOzg="')
        assert header.startswith(
            'TANHUI-HMAC-SHA256 partner="transit_st",key="webhook",timestamp="1795997700"'
        )
