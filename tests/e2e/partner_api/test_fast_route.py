"""POST /v1/partner/actions is answered before FastAPI's routing (backend.partner_api.fast_route), and
its answers are those of the FastAPI route, byte for byte: every status, problem, header and body.

Each case is sent to the app as it is and to the same app without the fast route, each time signed
anew (its own nonce) and with its own event ids, of equal length: ``@`` in a case stands for ``QQF``
(fast) or ``QQS`` (slow), and the answers must be equal once ``@`` is put back.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx
import orjson
import pytest
from fastapi import FastAPI

from backend.admin_api import partners as partner_admin
from backend.app import create_app
from backend.auth.partners import KnownPartner, PartnerDirectory
from backend.context import Platform
from backend.partner_api import service
from backend.partner_api.fast_route import FastIntake
from backend.request_ids import RequestIds
from partners.sdk import Credentials, authorization_header
from tests.e2e.partner_api.test_signing import assert_problem, count_rows, signed
from tests.factories import make_partner, mobile, sdk, trip

ACTIONS = "/v1/partner/actions"
FAST, SLOW = "QQF", "QQS"  # (no problem text or generated id holds either)
MIB = 1024 * 1024


@dataclasses.dataclass(frozen=True)
class Send:
    """One request: ``sign`` names the credentials it is signed with (None: not signed)."""

    body: bytes = b""
    method: str = "POST"
    path: str = ACTIONS
    sign: str | None = "k1"
    header: Callable[[str], str] = lambda auth: auth
    headers: dict[str, str] = dataclasses.field(default_factory=dict)
    timestamp: int | None = None
    nonce: str | None = None
    stream: bool = False


def actions(*items: dict[str, Any]) -> bytes:
    return orjson.dumps({"actions": list(items)})


def padded(body: bytes, size: int) -> bytes:
    return body + b" " * (size - len(body))


async def _chunks(body: bytes) -> AsyncIterator[bytes]:
    for start in range(0, len(body), 65536):
        yield body[start : start + 65536]


OLD = int(time.time()) - 1000
CASES: dict[str, list[Send]] = {
    "accepted": [Send(actions(trip(event_id="ev-@")))],
    "accepted, duplicate, rejected in one batch": [
        Send(
            actions(
                trip(event_id="ev-@"),
                trip(event_id="ev-@"),
                trip(event_id="ev-@-2", region="440599"),
                trip(event_id="ev-@-3", user="nobody"),
                {"event_id": "ev-@-4", "type": "trip"},
            )
        )
    ],
    "a retry": [Send(actions(trip(event_id="ev-@"))), Send(actions(trip(event_id="ev-@")))],
    "a conflict": [
        Send(actions(trip(event_id="ev-@"))),
        Send(actions(trip(event_id="ev-@", region="440511"))),
    ],
    "a query string, signed": [Send(actions(trip(event_id="ev-@")), path=ACTIONS + "?dry=@")],
    "a percent-encoded path": [Send(actions(trip(event_id="ev-@")), path="/v1/partner/%61ctions")],
    "no authorization": [Send(actions(trip()), sign=None)],
    "another scheme": [Send(actions(trip()), header=lambda a: a.replace("TANHUI-HMAC-SHA256", "Bearer"))],
    "a bad nonce": [Send(actions(trip()), nonce="short")],
    "a stale timestamp": [Send(actions(trip()), timestamp=OLD)],
    "an unknown partner": [Send(actions(trip()), sign="stranger")],
    "an unknown key": [Send(actions(trip()), sign="k9")],
    "a revoked key": [Send(actions(trip()), sign="k2")],
    "a forged signature": [Send(actions(trip()), sign="forged")],
    "a replayed nonce": [
        Send(actions(trip(event_id="ev-@")), nonce="replay00000000000@"),
        Send(actions(trip(event_id="ev-@")), nonce="replay00000000000@"),
    ],
    "a body of exactly 1 MiB": [Send(padded(actions(trip(event_id="ev-@")), MIB))],
    "a declared body over 1 MiB": [Send(padded(actions(trip()), MIB + 1))],
    "a streamed body over 1 MiB": [Send(padded(actions(trip()), 2 * MIB), stream=True)],
    "a body that is not JSON": [Send(b'{"actions": [')],
    "JSON of the wrong shape": [Send(b'{"actions": {}}')],
    "an empty batch": [Send(b'{"actions": []}')],
    "a request id given": [Send(actions(trip(event_id="ev-@")), headers={"x-request-id": "req-@"})],
    "a problem with a request id given": [Send(b"[]", headers={"x-request-id": "req-@"})],
    "GET on the path": [Send(method="GET")],
    "PUT on the path": [Send(actions(trip()), method="PUT")],
    "a trailing slash": [Send(actions(trip()), path=ACTIONS + "/")],
}


def without_fast_route(app: FastAPI) -> FastAPI:
    """The app with POST /v1/partner/actions served by FastAPI's routing, as before the fast route."""
    app.user_middleware = [m for m in app.user_middleware if m.cls is not FastIntake]
    return app


@pytest.fixture
async def keys(platform: Platform, app: Any) -> dict[str, Credentials]:
    """The partner's keys by name: k1 (active, its user bound), k2 (revoked), and some it does not have."""
    k1 = await make_partner(platform)
    async with sdk(app, k1) as client:
        await client.bind("wx_user_1", mobile(1))
    k2 = await partner_admin.rotate_key(platform, k1.partner_id)
    await partner_admin.revoke_key(platform, k1.partner_id, k2.key_id)
    return {
        "k1": k1,
        "k2": Credentials(k2.partner_id, k2.key_id, k2.secret),
        "k9": Credentials(k1.partner_id, "k9", k1.secret),
        "stranger": Credentials("nobody_here", "k1", k1.secret),
        "forged": Credentials(k1.partner_id, "k1", "tsk_live_not_the_secret"),
    }


async def send(
    http: httpx.AsyncClient, keys: dict[str, Credentials], request: Send, tag: str
) -> httpx.Response:
    path, body = request.path.replace("@", tag), request.body.replace(b"@", tag.encode())
    headers = {k: v.replace("@", tag) for k, v in request.headers.items()}
    if request.sign is not None:
        nonce = request.nonce.replace("@", tag) if request.nonce else None
        auth = authorization_header(
            keys[request.sign], request.method, path, body, timestamp=request.timestamp, nonce=nonce
        )
        headers["authorization"] = request.header(auth)
    content: Any = _chunks(body) if request.stream else body
    return await http.request(request.method, path, content=content, headers=headers)


def answer(response: httpx.Response, tag: str) -> tuple[int, list[tuple[bytes, bytes]], bytes]:
    """What the client sees, with ``@`` put back for the tag (and a generated request id left out)."""
    headers, body = list(response.headers.raw), response.content
    if "x-request-id" not in response.request.headers:
        rid = response.headers["x-request-id"].encode()
        headers = [(k, v) for k, v in headers if k.lower() != b"x-request-id"]
        body = body.replace(rid, b"<generated>")
    tagged = tag.encode()
    return (
        response.status_code,
        [(k, v.replace(tagged, b"@")) for k, v in headers],
        body.replace(tagged, b"@"),
    )


@pytest.fixture
async def slow_http(platform: Platform) -> AsyncIterator[httpx.AsyncClient]:
    app = without_fast_route(create_app(platform=platform))
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://tanhui.test") as c:
        yield c


class TestSameAnswersAsTheFastApiRoute:
    @pytest.mark.parametrize("case", CASES, ids=list(CASES))
    async def test_the_fast_route_answers_exactly_as_the_fastapi_route(self, http, slow_http, keys, case):
        fast = slow = None
        for request in CASES[case]:
            fast = await send(http, keys, request, FAST)
            slow = await send(slow_http, keys, request, SLOW)
        assert fast is not None and slow is not None
        assert answer(fast, FAST) == answer(slow, SLOW)

    async def test_a_request_id_is_generated_and_echoed_when_none_is_given(self, http, keys):
        response = await send(http, keys, Send(b"[]"), FAST)
        assert_problem(response, 422, "invalid-request")
        assert response.json()["instance"] == "urn:tanhui:request:" + response.headers["x-request-id"]

    async def test_an_unexpected_error_is_a_500_problem_as_from_any_route(self, platform, keys, monkeypatch):
        async def broken(*_: Any) -> None:
            raise RuntimeError("a bug")

        monkeypatch.setattr(service, "report_actions", broken)
        answers = []
        apps = (
            (create_app(platform=platform), FAST),
            (without_fast_route(create_app(platform=platform)), SLOW),
        )
        for app, tag in apps:
            transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
            async with httpx.AsyncClient(transport=transport, base_url="http://tanhui.test") as client:
                request = Send(actions(trip(event_id="ev-@")), headers={"x-request-id": "req-@"})
                response = await send(client, keys, request, tag)
            assert_problem(response, 500, "internal")
            assert "a bug" not in response.text
            answers.append(answer(response, tag))
        assert answers[0] == answers[1]


class TestRouting:
    async def test_the_fast_route_answers_alone_and_passes_everything_else_on(self, app, keys):
        """Nothing behind the fast route is called for the single-action POST; anything else reaches it."""
        reached: list[str] = []

        async def behind(scope: Any, receive: Any, send: Any) -> None:
            reached.append(f"{scope['method']} {scope['path']}")
            await app(scope, receive, send)

        async def asgi(scope: Any, receive: Any, send: Any) -> None:
            scope["app"] = app  # as Starlette sets it for its middleware
            await RequestIds(FastIntake(behind))(scope, receive, send)

        transport = httpx.ASGITransport(app=asgi)
        async with httpx.AsyncClient(transport=transport, base_url="http://tanhui.test") as client:
            accepted = await signed(client, keys["k1"], "POST", ACTIONS, actions(trip()))
            other = await signed(client, keys["k1"], "GET", ACTIONS + "/nothing")
        assert accepted.status_code == 202, accepted.text
        assert_problem(other, 404, "action-not-found")
        assert reached == [f"GET {ACTIONS}/nothing"]

    async def test_the_route_stays_documented_in_openapi(self, app):
        operation = app.openapi()["paths"][ACTIONS]["post"]
        assert "202" in operation["responses"] and "401" in operation["responses"]
        assert operation["requestBody"]["content"]["application/json"]["schema"]["$ref"].endswith(
            "ActionBatch"
        )


class TestLoad:
    async def test_a_single_action_that_cannot_get_a_connection_is_a_503_with_retry_after(self, platform):
        """(The session's platform only empties the tables; this one has a hot pool of one connection.)"""
        if platform.settings.is_sqlite:
            pytest.skip("the hot path (raw psycopg) is PostgreSQL's")
        tight = platform.settings.model_copy(update={"db_pool_size": 1, "db_pool_timeout_s": 0.2})
        platform = await Platform.open(tight)
        assert platform.pg is not None
        try:
            app = create_app(platform=platform)
            creds = await make_partner(platform)
            async with sdk(app, creds) as client:
                await client.bind("wx_user_1", mobile(1))
            async with (
                platform.pg.transaction() as held,  # the hot pool's only connection, kept busy
                httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as http,
            ):
                await held.execute("SELECT 1")
                response = await signed(http, creds, "POST", ACTIONS, actions(trip()))
            assert_problem(response, 503, "overloaded")
            assert response.headers["retry-after"] == "1"
            assert await count_rows(platform, "actions") == 0
        finally:
            await platform.close()


class _EverReadingDirectory(PartnerDirectory):
    """A directory whose every read of a partner is followed at once by a change to it."""

    async def read(self, partner_id: str) -> KnownPartner | None:
        known = await super().read(partner_id)
        await self.invalidate(partner_id)
        return known


class TestAuthenticationWithTheProcessCopy:
    async def test_a_warm_request_reads_neither_the_database_nor_the_cache(self, http, keys, platform):
        assert (await signed(http, keys["k1"], "POST", ACTIONS, actions(trip()))).status_code == 202
        remembered = platform.partners.remembered(keys["k1"].partner_id)
        assert remembered is not None
        await platform.redis.delete(platform.keys.partner(keys["k1"].partner_id))  # the shared cache
        response = await signed(http, keys["k1"], "POST", ACTIONS, actions(trip()))
        assert response.status_code == 202, response.text
        assert platform.partners.remembered(keys["k1"].partner_id) is remembered
        assert await platform.redis.exists(platform.keys.partner(keys["k1"].partner_id)) == 0

    async def test_a_key_issued_by_another_process_signs_at_once(self, http, keys, platform):
        """This process remembers the partner with k1 only; k3 is issued elsewhere (the cache of this
        process is not told): the first request signed with k3 is accepted."""
        # given
        assert (await signed(http, keys["k1"], "POST", ACTIONS, actions(trip()))).status_code == 202
        elsewhere = dataclasses.replace(
            platform,
            partners=PartnerDirectory(platform.db, platform.redis, platform.hot, platform.keys, platform.box),
        )
        # when
        k3 = await partner_admin.rotate_key(elsewhere, keys["k1"].partner_id)
        # then
        response = await signed(
            http, Credentials(k3.partner_id, k3.key_id, k3.secret), "POST", ACTIONS, actions(trip())
        )
        assert response.status_code == 202, response.text

    async def test_a_key_revoked_by_another_process_fails_at_once(self, http, keys, platform):
        # given
        assert (await signed(http, keys["k1"], "POST", ACTIONS, actions(trip()))).status_code == 202
        elsewhere = dataclasses.replace(
            platform,
            partners=PartnerDirectory(platform.db, platform.redis, platform.hot, platform.keys, platform.box),
        )
        # when
        await partner_admin.revoke_key(elsewhere, keys["k1"].partner_id, "k1")
        # then
        response = await signed(http, keys["k1"], "POST", ACTIONS, actions(trip()))
        assert_problem(response, 401, "revoked-key")
        assert await count_rows(platform, "actions") == 1

    async def test_a_partner_changing_at_every_read_is_still_served_once_per_nonce(self, keys, platform):
        """Each claim against a copy finds the partner changed since: after a few reads the nonce is
        recorded whatever the generation, as before the process copy existed."""
        racing = dataclasses.replace(
            platform,
            partners=_EverReadingDirectory(
                platform.db, platform.redis, platform.hot, platform.keys, platform.box
            ),
        )
        app = create_app(platform=racing)
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as client:
            body, nonce = actions(trip()), "racing00000000000001"
            first = await signed(client, keys["k1"], "POST", ACTIONS, body, nonce=nonce)
            again = await signed(client, keys["k1"], "POST", ACTIONS, body, nonce=nonce)
        assert first.status_code == 202, first.text
        assert_problem(again, 401, "replayed-nonce")
