"""The SDK clients against a fake partner API server that checks every signature like the real one."""

import json
import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from urllib.parse import unquote

import httpx
import pytest

from partners.sdk import (
    ApiError,
    AsyncTanhuiClient,
    BatchResult,
    Binding,
    CitizenToken,
    Credentials,
    ItemResult,
    Outcome,
    Quote,
    TanhuiClient,
    WebhookRegistration,
    sign,
)

NOW = 1795997700
PREFIX = "/tanhui"
BASE_URL = f"https://api.tanhui.test{PREFIX}"
SECRET = "tsk_test_3f9a1c7e5b2d4f6a"
CREDS = Credentials(partner_id="transit_st", key_id="k1", secret=SECRET)
AUTH = re.compile(
    r'TANHUI-HMAC-SHA256 partner="(?P<partner>[^"]+)",key="(?P<key>[^"]+)",'
    r'timestamp="(?P<timestamp>\d+)",nonce="(?P<nonce>[^"]+)",signature="(?P<signature>[^"]+)"'
)
ANSWERS = {
    ("POST", "/v1/partner/bindings"): {"citizen_id": "c_7Qk2", "created": True},
    ("POST", "/v1/partner/citizen-tokens"): {
        "access_token": "eyJ.x.y",
        "token_type": "Bearer",
        "expires_in": 900,
    },
    ("POST", "/v1/partner/quote"): {"reduction_g": 468, "points": 4, "methodology": "trip.bus@2026.1"},
    ("PUT", "/v1/partner/webhook"): {"url": "https://partner.example/hooks/tanhui", "secret": "whsec_once"},
}


def problem(status, code, detail=""):
    body = {
        "type": f"https://tanhui.example/problems/{code}",
        "title": code.replace("-", " "),
        "status": status,
    }
    return httpx.Response(
        status, json=body | {"detail": detail}, headers={"Content-Type": "application/problem+json"}
    )


@dataclass
class Seen:
    method: str
    path: str
    body: bytes
    nonce: str
    timestamp: int


@dataclass
class FakeTanhui:
    """Stands for the remote API: verifies each request as the contract demands, then answers.

    `failures` are answered (or raised, for transport errors) in turn before the real route runs,
    after the signature is checked, so retried attempts are verified too.
    """

    failures: list = field(default_factory=list)
    now: int = NOW
    seen: list[Seen] = field(default_factory=list)
    nonces: set[str] = field(default_factory=set)

    def __call__(self, request: httpx.Request) -> httpx.Response:
        match = AUTH.fullmatch(request.headers.get("Authorization", ""))
        if match is None or (match["partner"], match["key"]) != ("transit_st", "k1"):
            return problem(401, "malformed-authorization")
        wire_path = request.url.raw_path.decode()
        body = request.content
        expected = sign(SECRET, request.method, wire_path, match["timestamp"], match["nonce"], body)
        if expected != match["signature"]:
            return problem(401, "bad-signature")
        if abs(int(match["timestamp"]) - self.now) > 300:
            return problem(401, "stale-timestamp", "timestamp is more than 300 s from the server clock")
        if match["nonce"] in self.nonces:
            return problem(401, "replayed-nonce")
        self.nonces.add(match["nonce"])
        self.seen.append(Seen(request.method, wire_path, body, match["nonce"], int(match["timestamp"])))
        if body:
            assert request.headers["Content-Type"] == "application/json"
        if self.failures:
            failure = self.failures.pop(0)
            if isinstance(failure, Exception):
                raise failure
            return failure
        return self.route(request.method, wire_path.removeprefix(PREFIX), json.loads(body) if body else None)

    def route(self, method, path, payload):
        if (method, path) == ("POST", "/v1/partner/actions"):
            results = [
                {"event_id": action["event_id"], "status": "accepted"} for action in payload["actions"]
            ]
            return httpx.Response(
                202, json={"results": results, "accepted": len(results), "duplicates": 0, "rejected": 0}
            )
        if (method, path) in ANSWERS:
            return httpx.Response(200, json=ANSWERS[method, path])
        if method == "GET" and path.startswith("/v1/partner/actions/"):
            event_id = unquote(path.rsplit("/", 1)[1])
            outcome = {"event_id": event_id, "status": "pending", "citizen_id": "c_7Qk2", "queued_at": "soon"}
            return httpx.Response(200, json=outcome)
        if (method, path) == ("DELETE", "/v1/partner/webhook"):
            return httpx.Response(204)
        return problem(404, "not-found", path)

    @property
    def bodies(self):
        return [seen.body for seen in self.seen]


def make_action(n, **overrides):
    action = {
        "event_id": f"bus-20261124-{n:06d}",
        "user": "wx_o6_demo_0001",
        "type": "trip",
        "occurred_at": "2026-11-24T08:15:00+08:00",
        "region": "440507",
        "data": {"mode": "bus", "distance_m": 5200, "duration_s": 1380},
    }
    return action | overrides


@pytest.fixture
def sleeps():
    return []


@pytest.fixture
def make_client(sleeps):
    clients = []

    def make(server, credentials=CREDS, **options):
        options = {"clock": lambda: NOW, "sleep": sleeps.append} | options
        client = TanhuiClient(BASE_URL, credentials, transport=httpx.MockTransport(server), **options)
        clients.append(client)
        return client

    yield make
    for client in clients:
        client.close()


@pytest.fixture
def make_async_client(sleeps):
    async def sleep(seconds):
        sleeps.append(seconds)

    def make(server, **options):
        options = {"clock": lambda: NOW, "sleep": sleep} | options
        return AsyncTanhuiClient(BASE_URL, CREDS, transport=httpx.MockTransport(server), **options)

    return make


class TestEndpoints:
    def test_bind_signs_the_full_path_sent_including_the_base_url_prefix(self, make_client):
        server = FakeTanhui()
        assert make_client(server).bind("wx_o6_demo_0001", "+8613800000000") == Binding("c_7Qk2", True)
        assert (server.seen[0].path, server.seen[0].timestamp) == ("/tanhui/v1/partner/bindings", NOW)
        assert json.loads(server.seen[0].body) == {"user": "wx_o6_demo_0001", "mobile": "+8613800000000"}

    def test_body_is_compact_utf8_json(self, make_client):
        server = FakeTanhui()
        make_client(server).report_batch([make_action(1, user="微信用户")])
        assert (
            server.seen[0].body
            == json.dumps(
                {"actions": [make_action(1, user="微信用户")]}, separators=(",", ":"), ensure_ascii=False
            ).encode()
        )

    def test_outcome_url_quotes_the_event_id_and_tolerates_missing_and_unknown_fields(self, make_client):
        server = FakeTanhui()
        outcome = make_client(server).outcome("metro:20261124.000042")
        assert server.seen[0].path == "/tanhui/v1/partner/actions/metro%3A20261124.000042"
        assert server.seen[0].body == b""
        assert outcome == Outcome(event_id="metro:20261124.000042", status="pending", citizen_id="c_7Qk2")
        assert (outcome.points, outcome.reduction_g, outcome.methodology, outcome.reasons) == (0, 0, None, [])

    def test_citizen_token(self, make_client):
        token = make_client(FakeTanhui()).citizen_token("wx_o6_demo_0001")
        assert token == CitizenToken(access_token="eyJ.x.y", token_type="Bearer", expires_in=900)
        assert "eyJ" not in repr(token)

    def test_quote_sends_the_action_without_event_id_and_user(self, make_client):
        server = FakeTanhui()
        quote = make_client(server).quote(make_action(1))
        assert quote == Quote(reduction_g=468, points=4, methodology="trip.bus@2026.1")
        assert json.loads(server.seen[0].body).keys() == {"type", "occurred_at", "region", "data"}

    def test_set_webhook_returns_the_secret_once_shown(self, make_client):
        registration = make_client(FakeTanhui()).set_webhook("https://partner.example/hooks/tanhui")
        assert registration == WebhookRegistration("https://partner.example/hooks/tanhui", "whsec_once")
        assert "whsec_once" not in repr(registration)

    def test_delete_webhook_returns_none_on_204(self, make_client):
        server = FakeTanhui()
        assert make_client(server).delete_webhook() is None
        assert server.seen[0].method == "DELETE"

    def test_context_manager_closes_the_client(self):
        with TanhuiClient(
            BASE_URL, CREDS, transport=httpx.MockTransport(FakeTanhui()), clock=lambda: NOW
        ) as c:
            c.bind("wx_o6_demo_0001", "+8613800000000")
        with pytest.raises(RuntimeError):
            c.bind("wx_o6_demo_0001", "+8613800000000")


class TestReport:
    def test_2500_actions_go_in_three_requests_and_results_merge_in_order(self, make_client):
        server = FakeTanhui()
        result = make_client(server).report(make_action(n) for n in range(2500))
        assert [len(json.loads(body)["actions"]) for body in server.bodies] == [1000, 1000, 500]
        assert [item.event_id for item in result.results] == [make_action(n)["event_id"] for n in range(2500)]
        assert (result.accepted, result.duplicates, result.rejected) == (2500, 0, 0)

    def test_counts_of_each_request_are_summed(self, make_client):
        conflict = {"type": "https://tanhui.example/problems/event-conflict", "title": "event conflict"}

        def answer(method, path, payload):
            ids = [action["event_id"] for action in payload["actions"]]
            results = [{"event_id": ids[0], "status": "duplicate"}]
            results += [{"event_id": ids[1], "status": "rejected", "problem": conflict}]
            results += [{"event_id": event_id, "status": "accepted"} for event_id in ids[2:]]
            counts = {"accepted": len(ids) - 2, "duplicates": 1, "rejected": 1}
            return httpx.Response(202, json={"results": results, **counts})

        server = FakeTanhui()
        server.route = answer
        result = make_client(server).report(make_action(n) for n in range(1500))
        assert (result.accepted, result.duplicates, result.rejected) == (1496, 2, 2)
        assert result.results[1001] == ItemResult(make_action(1001)["event_id"], "rejected", conflict)

    def test_reporting_nothing_sends_nothing(self, make_client):
        server = FakeTanhui()
        assert make_client(server).report([]) == BatchResult([], 0, 0, 0)
        assert server.seen == []

    @pytest.mark.parametrize("count", [0, 1001])
    def test_report_batch_refuses_batches_outside_1_to_1000(self, make_client, count):
        server = FakeTanhui()
        with pytest.raises(ValueError):
            make_client(server).report_batch([make_action(n) for n in range(count)])
        assert server.seen == []

    def test_naive_datetimes_are_refused_and_aware_ones_are_sent_with_their_offset(self, make_client):
        server = FakeTanhui()
        aware = datetime(2026, 11, 24, 8, 15, tzinfo=timezone(timedelta(hours=8)))
        make_client(server).report_batch([make_action(1, occurred_at=aware)])
        assert json.loads(server.seen[0].body)["actions"][0]["occurred_at"] == "2026-11-24T08:15:00+08:00"
        with pytest.raises(TypeError):
            make_client(server).report_batch([make_action(2, occurred_at=datetime(2026, 11, 24))])


class TestRetries:
    def test_503_twice_then_202_retries_the_identical_body_with_fresh_nonces(self, make_client, sleeps):
        server = FakeTanhui(failures=[problem(503, "unavailable"), problem(503, "unavailable")])
        result = make_client(server).report_batch([make_action(1), make_action(2)])
        assert result.accepted == 2
        assert len(server.seen) == 3
        assert len(set(server.bodies)) == 1
        assert len({seen.nonce for seen in server.seen}) == 3
        assert len(sleeps) == 2

    def test_each_retry_is_signed_with_a_fresh_timestamp(self, make_client):
        ticks = iter(range(NOW, NOW + 10))
        server = FakeTanhui(failures=[problem(502, "bad-gateway")])
        make_client(server, clock=lambda: next(ticks)).report_batch([make_action(1)])
        assert [seen.timestamp for seen in server.seen] == [NOW, NOW + 1]

    def test_network_errors_are_retried(self, make_client):
        server = FakeTanhui(failures=[httpx.ConnectError("refused"), httpx.ReadTimeout("slow")])
        assert make_client(server).report_batch([make_action(1)]).accepted == 1
        assert len(set(server.bodies)) == 1 and len(server.seen) == 3

    def test_429_honours_retry_after_seconds(self, make_client, sleeps):
        too_many = problem(429, "rate-limited")
        too_many.headers["Retry-After"] = "7"
        make_client(FakeTanhui(failures=[too_many])).bind("wx_o6_demo_0001", "+8613800000000")
        assert sleeps == [7.0]

    def test_backoff_is_full_jitter_bounded_by_backoff_max(self, make_client, sleeps):
        server = FakeTanhui(failures=[problem(503, "unavailable")] * 9)
        client = make_client(server, max_retries=8, backoff_base=0.5, backoff_max=3.0)
        with pytest.raises(ApiError):
            client.bind("wx_o6_demo_0001", "+8613800000000")
        assert len(sleeps) == 8
        assert all(0 <= slept <= min(3.0, 0.5 * 2**attempt) for attempt, slept in enumerate(sleeps))

    def test_after_the_last_retry_the_last_api_error_is_raised(self, make_client, sleeps):
        server = FakeTanhui(failures=[problem(503, "unavailable"), problem(504, "gateway-timeout", "last")])
        with pytest.raises(ApiError) as raised:
            make_client(server, max_retries=1).bind("wx_o6_demo_0001", "+8613800000000")
        assert (raised.value.status, raised.value.detail) == (504, "last")
        assert len(server.seen) == 2 and len(sleeps) == 1

    def test_after_the_last_retry_the_last_network_error_is_raised(self, make_client):
        server = FakeTanhui(failures=[httpx.ConnectError("first"), httpx.ConnectError("second")])
        with pytest.raises(httpx.ConnectError, match="second"):
            make_client(server, max_retries=1).bind("wx_o6_demo_0001", "+8613800000000")

    def test_a_stale_timestamp_401_is_not_retried(self, make_client, sleeps):
        server = FakeTanhui()
        with pytest.raises(ApiError) as raised:
            make_client(server, clock=lambda: NOW - 1000).bind("wx_o6_demo_0001", "+8613800000000")
        assert raised.value.status == 401
        assert raised.value.type.endswith("/stale-timestamp")
        assert sleeps == []


class TestErrors:
    def test_a_4xx_raises_api_error_with_the_problem_at_once(self, make_client, sleeps):
        conflict = problem(409, "binding-conflict", "user is bound to another mobile")
        with pytest.raises(ApiError) as raised:
            make_client(FakeTanhui(failures=[conflict])).bind("wx_o6_demo_0001", "+8613800000001")
        error = raised.value
        assert (error.status, error.type, error.title, error.detail) == (
            409,
            "https://tanhui.example/problems/binding-conflict",
            "binding conflict",
            "user is bound to another mobile",
        )
        assert "409" in str(error) and "user is bound to another mobile" in str(error)
        assert sleeps == []

    def test_a_wrong_secret_is_refused_by_the_server(self, make_client):
        client = make_client(FakeTanhui(), credentials=Credentials("transit_st", "k1", "tsk_wrong"))
        with pytest.raises(ApiError) as raised:
            client.bind("wx_o6_demo_0001", "+8613800000000")
        assert raised.value.type.endswith("/bad-signature")

    def test_an_error_without_a_problem_body_still_has_a_problem(self, make_client):
        server = FakeTanhui(failures=[httpx.Response(418, text="<html>teapot</html>")])
        with pytest.raises(ApiError) as raised:
            make_client(server).bind("wx_o6_demo_0001", "+8613800000000")
        assert raised.value.type == "about:blank"
        assert raised.value.problem["status"] == 418 and "teapot" in raised.value.detail


class TestAsyncClient:
    async def test_bind_and_outcome(self, make_async_client):
        server = FakeTanhui()
        async with make_async_client(server) as client:
            assert await client.bind("wx_o6_demo_0001", "+8613800000000") == Binding("c_7Qk2", True)
            assert (await client.outcome("bus-1")).status == "pending"
        assert [seen.path for seen in server.seen] == [
            "/tanhui/v1/partner/bindings",
            "/tanhui/v1/partner/actions/bus-1",
        ]

    async def test_503_twice_then_202_retries_the_identical_body_with_fresh_nonces(
        self, make_async_client, sleeps
    ):
        server = FakeTanhui(failures=[problem(503, "unavailable"), httpx.ConnectError("refused")])
        async with make_async_client(server) as client:
            assert (await client.report_batch([make_action(1)])).accepted == 1
        assert len(server.seen) == 3 and len(set(server.bodies)) == 1
        assert len({seen.nonce for seen in server.seen}) == 3 and len(sleeps) == 2

    async def test_2500_actions_go_in_three_requests_and_results_merge_in_order(self, make_async_client):
        server = FakeTanhui()
        async with make_async_client(server) as client:
            result = await client.report(make_action(n) for n in range(2500))
        assert [len(json.loads(body)["actions"]) for body in server.bodies] == [1000, 1000, 500]
        assert [item.event_id for item in result.results] == [make_action(n)["event_id"] for n in range(2500)]
        assert result.accepted == 2500

    async def test_a_4xx_raises_api_error(self, make_async_client):
        server = FakeTanhui(failures=[problem(422, "invalid-action", "region 110000 is not permitted")])
        async with make_async_client(server) as client:
            with pytest.raises(ApiError) as raised:
                await client.quote(make_action(1, region="110000"))
        assert raised.value.status == 422 and raised.value.detail == "region 110000 is not permitted"

    async def test_a_stale_timestamp_401_is_not_retried(self, make_async_client, sleeps):
        server = FakeTanhui()
        async with make_async_client(server, clock=lambda: NOW + 1000) as client:
            with pytest.raises(ApiError) as raised:
                await client.citizen_token("wx_o6_demo_0001")
        assert raised.value.type.endswith("/stale-timestamp") and sleeps == []

    async def test_token_webhook_and_delete(self, make_async_client):
        async with make_async_client(FakeTanhui()) as client:
            assert (await client.citizen_token("wx_o6_demo_0001")).expires_in == 900
            assert (await client.set_webhook("https://partner.example/hooks/tanhui")).secret == "whsec_once"
            assert await client.delete_webhook() is None
