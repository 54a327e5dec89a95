"""Signed partner requests: every way a signature can fail answers 401, names the failed check, and
changes nothing. Also the request as a whole: body size, JSON shape, unknown routes and methods.

The helpers at the top (``signed``, ``assert_problem``, ``count_rows``) serve the other e2e files too.
"""

from __future__ import annotations

import math
import time
from collections.abc import AsyncIterator
from typing import Any

import httpx
import orjson
import pytest
from sqlalchemy import func, select
from sqlmodel import SQLModel

from backend.admin_api import partners as partner_admin
from backend.auth.partners import PartnerDirectory, PartnerRecord
from backend.context import Platform
from backend.errors import TooManyKeys
from partners.sdk import Credentials, authorization_header
from tests.factories import make_partner, mobile, sdk, trip

PROBLEMS = "https://tanhui.example/problems/"
ACTIONS = "/v1/partner/actions"


async def signed(
    http: httpx.AsyncClient,
    creds: Credentials,
    method: str,
    path: str,
    body: bytes = b"",
    *,
    sent_path: str | None = None,
    sent_body: bytes | None = None,
    **header: Any,
) -> httpx.Response:
    """Sign ``method path body`` with ``creds``; send it (or ``sent_path``/``sent_body`` instead)."""
    auth = authorization_header(creds, method, path, body, **header)
    content = body if sent_body is None else sent_body
    headers = {"authorization": auth, "content-type": "application/json"}
    return await http.request(method, sent_path or path, content=content, headers=headers)


def assert_problem(response: httpx.Response, status: int, code: str) -> dict[str, Any]:
    """The response is an RFC 9457 problem of ``code`` with ``status``."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    doc: dict[str, Any] = response.json()
    assert doc["type"] == PROBLEMS + code
    assert doc["status"] == status and doc["title"] and doc["detail"]
    return doc


async def count_rows(platform: Platform, table: str) -> int:
    async with platform.db.read() as conn:
        query = select(func.count()).select_from(SQLModel.metadata.tables[table])
        return int((await conn.execute(query)).scalar_one())


def batch(**overrides: Any) -> bytes:
    return orjson.dumps({"actions": [trip(**overrides)]})


@pytest.fixture
async def creds(platform: Platform, app: Any) -> AsyncIterator[Credentials]:
    """A partner whose user ``wx_user_1`` is bound, so that a signed report would be accepted."""
    creds = await make_partner(platform)
    async with sdk(app, creds) as client:
        await client.bind("wx_user_1", mobile(1))
    yield creds


async def assert_refused(response: httpx.Response, code: str, creds: Credentials, platform: Platform) -> None:
    """401 naming ``code``, no secret in the answer, and no action stored."""
    assert_problem(response, 401, code)
    assert creds.secret not in response.text
    assert await count_rows(platform, "actions") == 0


class TestValidSignature:
    async def test_a_correctly_signed_report_is_accepted(self, http, creds, platform):
        response = await signed(http, creds, "POST", ACTIONS, batch())
        assert response.status_code == 202, response.text
        assert response.json()["accepted"] == 1
        assert await count_rows(platform, "actions") == 1

    async def test_the_query_string_as_sent_is_part_of_what_is_signed(self, http, creds):
        response = await signed(http, creds, "GET", "/v1/partner/actions/x?a=1")
        assert_problem(response, 404, "action-not-found")  # past authentication

    async def test_a_timestamp_290_seconds_old_is_still_fresh(self, http, creds):
        # the exact ±300 s edges are pinned in tests/unit/backend/test_signatures.py, free of clock jitter
        response = await signed(http, creds, "POST", ACTIONS, batch(), timestamp=math.ceil(time.time()) - 290)
        assert response.status_code == 202, response.text


VALID_NONCE = "n0nce8f3a9c2b1d4e5f"
SCHEME = "TANHUI-HMAC-SHA256"
MAL, NONCE = "malformed-authorization", "bad-nonce"
MALFORMED = [
    ("another scheme", lambda h: h.replace(SCHEME, "Bearer"), MAL),
    ("a lower-case scheme", lambda h: h.replace(SCHEME, SCHEME.lower()), MAL),
    ("the scheme only", lambda h: SCHEME, MAL),
    ("a parameter missing", lambda h: h.replace(f',nonce="{VALID_NONCE}"', ""), MAL),
    ("a parameter twice", lambda h: h + ',key="k1"', MAL),
    ("an extra parameter", lambda h: h + ',realm="x"', MAL),
    ("an unquoted value", lambda h: h.replace('key="k1"', "key=k1"), MAL),
    ("a partner id of the wrong form", lambda h: h.replace("transit_st", "Transit-ST"), MAL),
    ("a non-numeric timestamp", lambda h: _timestamp(h, "soon"), MAL),
    ("a negative timestamp", lambda h: _timestamp(h, "-1795997700"), MAL),
    ("a timestamp in exponent form", lambda h: _timestamp(h, "1.7e9"), MAL),
    ("a timestamp of non-ASCII digits", lambda h: _timestamp(h, "\u00b2"), MAL),
    ("a nonce of 15 characters", lambda h: h.replace(VALID_NONCE, "a" * 15), NONCE),
    ("a nonce of 65 characters", lambda h: h.replace(VALID_NONCE, "a" * 65), NONCE),
    ("a nonce with a dash", lambda h: h.replace(VALID_NONCE, "n0nce-8f3a9c2b1d4e5f"), NONCE),
    ("a nonce with non-ASCII letters", lambda h: h.replace(VALID_NONCE, "n0nce\u00e98f3a9c2b1d4e5f"), NONCE),
]


def _timestamp(header: str, value: str) -> str:
    start = header.index('timestamp="') + len('timestamp="')
    return header[:start] + value + header[header.index('"', start) :]


class TestMalformedAuthorization:
    async def test_a_request_without_authorization_is_refused(self, http, creds, platform):
        response = await http.post(ACTIONS, content=batch())
        await assert_refused(response, "missing-authorization", creds, platform)

    @pytest.mark.parametrize(("case", "mangle", "code"), MALFORMED, ids=[c[0] for c in MALFORMED])
    async def test_a_malformed_header_is_refused_naming_the_check(
        self, http, creds, platform, case, mangle, code
    ):
        body = batch()
        header = mangle(authorization_header(creds, "POST", ACTIONS, body, nonce=VALID_NONCE))
        response = await http.post(ACTIONS, content=body, headers={"authorization": header.encode("latin-1")})
        await assert_refused(response, code, creds, platform)


class TestTimestamp:
    async def test_a_timestamp_301_seconds_old_is_stale(self, http, creds, platform):
        response = await signed(http, creds, "POST", ACTIONS, batch(), timestamp=int(time.time()) - 301)
        await assert_refused(response, "stale-timestamp", creds, platform)

    async def test_a_timestamp_301_seconds_ahead_is_stale(self, http, creds, platform):
        ahead = math.ceil(time.time()) + 301
        response = await signed(http, creds, "POST", ACTIONS, batch(), timestamp=ahead)
        await assert_refused(response, "stale-timestamp", creds, platform)


class TestReplay:
    async def test_the_same_request_sent_twice_takes_effect_once(self, http, creds, platform):
        body, header = batch(), {"nonce": "replay0000000000001", "timestamp": int(time.time())}
        first = await signed(http, creds, "POST", ACTIONS, body, **header)
        again = await signed(http, creds, "POST", ACTIONS, body, **header)
        assert first.status_code == 202, first.text
        assert_problem(again, 401, "replayed-nonce")
        assert await count_rows(platform, "actions") == 1

    async def test_a_forged_request_does_not_burn_the_nonce(self, http, creds, platform):
        forged = Credentials(creds.partner_id, creds.key_id, "tsk_live_not_the_secret")
        body, nonce = batch(), "forged000000000001"
        await assert_refused(
            await signed(http, forged, "POST", ACTIONS, body, nonce=nonce), "bad-signature", creds, platform
        )
        response = await signed(http, creds, "POST", ACTIONS, body, nonce=nonce)
        assert response.status_code == 202, response.text


class TestUnknownSigner:
    async def test_an_unknown_partner_is_refused(self, http, creds, platform):
        stranger = Credentials("nobody_here", "k1", creds.secret)
        response = await signed(http, stranger, "POST", ACTIONS, batch())
        await assert_refused(response, "unknown-partner-or-key", creds, platform)

    async def test_an_unknown_key_is_refused(self, http, creds, platform):
        response = await signed(
            http, Credentials(creds.partner_id, "k9", creds.secret), "POST", ACTIONS, batch()
        )
        await assert_refused(response, "unknown-partner-or-key", creds, platform)


class TestRevokedKey:
    async def test_a_revoked_key_fails_on_the_very_next_request(self, http, creds, platform):
        assert (await signed(http, creds, "GET", "/v1/partner/actions/x")).status_code == 404  # cached
        await partner_admin.revoke_key(platform, creds.partner_id, "k1")
        response = await signed(http, creds, "POST", ACTIONS, batch())
        await assert_refused(response, "revoked-key", creds, platform)

    async def test_a_lookup_racing_with_a_revocation_does_not_cache_the_revoked_key(self, platform, creds):
        """A reader loads the partner from the database, the key is revoked and the cache dropped, and
        only then does the reader fill the cache: the next lookup must still see the revocation."""

        class RacingDirectory(PartnerDirectory):
            async def _load(self, partner_id: str) -> PartnerRecord | None:
                record = await super()._load(partner_id)
                await partner_admin.revoke_key(platform, partner_id, "k1")  # lands mid-lookup
                return record

        # given
        await platform.partners.invalidate(creds.partner_id)
        racing = RacingDirectory(platform.db, platform.redis, platform.hot, platform.keys, platform.box)
        # when
        stale = await racing.lookup(creds.partner_id)
        # then
        assert stale is not None and stale.keys["k1"][1] == "active"
        fresh = await platform.partners.lookup(creds.partner_id)
        assert fresh is not None and fresh.keys["k1"][1] == "revoked"


class TestKeyRotation:
    async def test_rotation_keeps_both_keys_working_until_the_old_one_is_revoked(self, http, creds, platform):
        k2 = await partner_admin.rotate_key(platform, creds.partner_id)
        new = Credentials(k2.partner_id, k2.key_id, k2.secret)
        assert (await signed(http, creds, "POST", ACTIONS, batch())).status_code == 202
        assert (await signed(http, new, "POST", ACTIONS, batch())).status_code == 202

        await partner_admin.revoke_key(platform, creds.partner_id, "k1")
        assert_problem(await signed(http, creds, "POST", ACTIONS, batch()), 401, "revoked-key")
        assert (await signed(http, new, "POST", ACTIONS, batch())).status_code == 202
        assert await count_rows(platform, "actions") == 3

    async def test_a_third_key_while_two_are_active_is_refused(self, creds, platform):
        await partner_admin.rotate_key(platform, creds.partner_id)
        with pytest.raises(TooManyKeys):
            await partner_admin.rotate_key(platform, creds.partner_id)
        assert await count_rows(platform, "partner_keys") == 2


class TestTampering:
    async def test_a_body_other_than_the_signed_one_is_refused(self, http, creds, platform):
        response = await signed(http, creds, "POST", ACTIONS, batch(), sent_body=batch(region="440511"))
        await assert_refused(response, "bad-signature", creds, platform)

    async def test_a_path_other_than_the_signed_one_is_refused(self, http, creds, platform):
        body = orjson.dumps({"user": "wx_user_2", "mobile": mobile(2)})
        response = await signed(
            http, creds, "POST", "/v1/partner/quote", body, sent_path="/v1/partner/bindings"
        )
        await assert_refused(response, "bad-signature", creds, platform)
        assert await count_rows(platform, "bindings") == 1

    async def test_a_query_other_than_the_signed_one_is_refused(self, http, creds, platform):
        path = "/v1/partner/actions/x"
        response = await signed(http, creds, "GET", f"{path}?a=1", sent_path=f"{path}?a=2")
        await assert_refused(response, "bad-signature", creds, platform)

    async def test_a_signature_made_with_another_secret_is_refused_without_revealing_the_secret(
        self, http, creds, platform
    ):
        last = "1" if creds.secret.endswith("0") else "0"  # one character off, never the same secret
        wrong = Credentials(creds.partner_id, creds.key_id, creds.secret[:-1] + last)
        response = await signed(http, wrong, "POST", ACTIONS, batch())
        await assert_refused(response, "bad-signature", creds, platform)
        assert wrong.secret not in response.text


MIB = 1024 * 1024


def oversized() -> bytes:
    """A valid batch padded to 2 MiB: without the size limit it would be accepted."""
    body = batch()
    return body + b" " * (2 * MIB - len(body))


async def _stream(body: bytes) -> AsyncIterator[bytes]:
    for start in range(0, len(body), 65536):
        yield body[start : start + 65536]


SHAPES = [
    ("an empty object", b"{}", "invalid-request"),
    ("a list", b"[]", "invalid-request"),
    ("null", b"null", "invalid-request"),
    ("actions as an object", b'{"actions": {}}', "invalid-request"),
    ("an extra top-level key", orjson.dumps({"actions": [trip()], "dry_run": True}), "invalid-request"),
    ("no actions", b'{"actions": []}', "batch-too-large"),
    ("1,001 actions", orjson.dumps({"actions": [trip() for _ in range(1001)]}), "batch-too-large"),
]


class TestRequestBody:
    async def test_a_body_of_exactly_1_mib_is_read(self, http, creds):
        body = batch()
        response = await signed(http, creds, "POST", ACTIONS, body + b" " * (MIB - len(body)))
        assert response.status_code == 202, response.text

    async def test_a_declared_body_over_1_mib_is_refused(self, http, creds, platform):
        body = batch()
        response = await signed(http, creds, "POST", ACTIONS, body + b" " * (MIB + 1 - len(body)))
        assert_problem(response, 413, "body-too-large")
        assert await count_rows(platform, "actions") == 0

    async def test_a_streamed_body_without_length_over_1_mib_is_refused(self, http, creds, platform):
        body = oversized()
        auth = authorization_header(creds, "POST", ACTIONS, body)
        response = await http.post(ACTIONS, content=_stream(body), headers={"authorization": auth})
        assert "content-length" not in response.request.headers
        assert_problem(response, 413, "body-too-large")
        assert await count_rows(platform, "actions") == 0

    async def test_a_body_longer_than_its_declared_length_is_refused(self, http, creds, platform):
        body = oversized()
        headers = {
            "authorization": authorization_header(creds, "POST", ACTIONS, body),
            "content-length": "10",
        }
        request = http.build_request("POST", ACTIONS, content=body, headers=headers)
        assert request.headers["content-length"] == "10"
        assert_problem(await http.send(request), 413, "body-too-large")
        assert await count_rows(platform, "actions") == 0

    async def test_a_body_that_is_not_json_is_malformed(self, http, creds, platform):
        response = await signed(http, creds, "POST", ACTIONS, b'{"actions": [')
        assert_problem(response, 400, "malformed-json")
        assert await count_rows(platform, "actions") == 0

    @pytest.mark.parametrize(("case", "body", "code"), SHAPES, ids=[s[0] for s in SHAPES])
    async def test_json_of_the_wrong_shape_is_refused_whole(self, http, creds, platform, case, body, code):
        response = await signed(http, creds, "POST", ACTIONS, body)
        assert_problem(response, 422, code)
        assert await count_rows(platform, "actions") == 0


class TestRouting:
    async def test_an_unknown_route_is_a_404_problem(self, http, creds):
        assert_problem(await signed(http, creds, "GET", "/v1/partner/nothing-here"), 404, "not-found")

    async def test_a_wrong_method_is_a_405_problem_naming_the_allowed_ones(self, http, creds):
        response = await signed(http, creds, "GET", "/v1/partner/bindings")
        assert_problem(response, 405, "method-not-allowed")
        assert response.headers["allow"] == "POST"
