"""Only a valid citizen token reads the citizen API: no token, another scheme, a partner signature,
an expired or foreign-key token, and every operator token are refused."""

from __future__ import annotations

import time

import jwt
import pytest

from backend.context import Platform
from tests.e2e.admin_api.test_partners import bearer
from tests.e2e.citizen_api.conftest import citizen_headers
from tests.e2e.partner_api.test_signing import assert_problem

ROUTES = [
    "/v1/citizen/me",
    "/v1/citizen/balances",
    "/v1/citizen/history",
    "/v1/citizen/footprint",
    "/v1/citizen/credits",
    "/v1/citizen/credits/transit_st/a-000/proof",
]


def _foreign_key(p: Platform) -> dict[str, str]:
    now = int(time.time())
    claims = {"sub": "c_x", "role": "citizen", "aud": "tanhui:citizen", "iss": p.settings.jwt_issuer}
    token = jwt.encode(
        {**claims, "iat": now, "exp": now + 600, "jti": "j"}, "another-key-of-at-least-32-bytes!!!"
    )
    return {"authorization": f"Bearer {token}"}


CALLERS = [
    ("no token", lambda p, c: {}, 401, "invalid-token"),
    ("another scheme", lambda p, c: {"authorization": "Basic YWRtaW46YWRtaW4="}, 401, "invalid-token"),
    (
        "a partner signature",
        lambda p, c: {"authorization": 'TANHUI-HMAC-SHA256 partner="transit_st"'},
        401,
        "invalid-token",
    ),
    (
        "an expired citizen token",
        lambda p, c: citizen_headers(p, c, now=int(time.time()) - 3600),
        401,
        "invalid-token",
    ),
    ("a citizen token signed with another key", lambda p, c: _foreign_key(p), 401, "invalid-token"),
    ("an admin token", lambda p, c: bearer(p, "admin"), 401, "invalid-token"),
    ("an auditor token", lambda p, c: bearer(p, "auditor"), 401, "invalid-token"),
    ("a merchant token", lambda p, c: bearer(p, "merchant"), 401, "invalid-token"),
]


class TestAuthorisation:
    @pytest.mark.parametrize("path", ROUTES)
    @pytest.mark.parametrize(("caller", "headers", "status", "code"), CALLERS, ids=[c[0] for c in CALLERS])
    async def test_only_a_citizen_token_reads_the_citizen_api(
        self, http, platform, world, path, caller, headers, status, code
    ):
        response = await http.get(path, headers=headers(platform, world.alice))
        doc = assert_problem(response, status, code)
        assert world.alice not in response.text and "a-000" not in str(doc.get("errors", ""))

    @pytest.mark.parametrize("path", ROUTES)
    async def test_a_valid_citizen_token_is_admitted(self, http, platform, world, path):
        response = await http.get(path, headers=citizen_headers(platform, world.alice))
        assert response.status_code == 200, response.text
