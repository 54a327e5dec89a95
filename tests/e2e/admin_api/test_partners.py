"""/v1/admin/partners…: administrators create partners, rotate and revoke keys, set webhooks;
no other caller can, and no answer ever carries a stored secret."""

from __future__ import annotations

import time
from typing import Any

import httpx
import jwt
import pytest

from backend.context import Platform
from partners.sdk import Credentials
from tests.e2e.partner_api.test_signing import assert_problem, count_rows, signed
from tests.factories import make_partner

PARTNERS = "/v1/admin/partners"
NEW_PARTNER = {
    "partner_id": "waste_st",
    "name": "汕头分类站",
    "types": ["waste_sorting"],
    "regions": ["440507"],
}


def bearer(platform: Platform, role: str = "admin", ttl: int = 600, now: int | None = None) -> dict[str, str]:
    token = platform.tokens.mint(f"op_{role}", role, ttl, int(time.time()) if now is None else now)  # type: ignore[arg-type]
    return {"authorization": f"Bearer {token}"}


@pytest.fixture
def admin(platform: Platform) -> dict[str, str]:
    return bearer(platform)


async def create(http: httpx.AsyncClient, headers: dict[str, str], **overrides: Any) -> httpx.Response:
    return await http.post(PARTNERS, json={**NEW_PARTNER, **overrides}, headers=headers)


BAD_PARTNERS = [
    ("a partner id with capitals", {"partner_id": "Waste"}),
    ("a partner id of 2 characters", {"partner_id": "ws"}),
    ("an unknown type", {"types": ["teleport"]}),
    ("a region outside Shantou", {"regions": ["110101"]}),
    ("no types", {"types": []}),
    ("no regions", {"regions": []}),
    ("a name with U+0000", {"name": "a\u0000b"}),
    ("an extra field", {"secret": "mine"}),
]


class TestCreatePartner:
    async def test_an_admin_creates_a_partner_whose_first_key_signs_at_once(self, http, admin, platform):
        response = await create(http, admin)
        assert response.status_code == 201, response.text
        issued = response.json()
        assert (issued["partner_id"], issued["key_id"]) == ("waste_st", "k1")
        assert issued["secret"].startswith("tsk_live_")
        creds = Credentials(issued["partner_id"], issued["key_id"], issued["secret"])
        answer = await signed(http, creds, "GET", "/v1/partner/actions/x")
        assert_problem(answer, 404, "action-not-found")  # authenticated

    async def test_a_partner_id_taken_already_is_a_conflict(self, http, admin, platform):
        await create(http, admin)
        assert_problem(await create(http, admin, name="again"), 409, "partner-exists")
        assert await count_rows(platform, "partners") == 1
        assert await count_rows(platform, "partner_keys") == 1

    @pytest.mark.parametrize(("case", "overrides"), BAD_PARTNERS, ids=[b[0] for b in BAD_PARTNERS])
    async def test_a_bad_partner_is_refused(self, http, admin, platform, case, overrides):
        assert_problem(await create(http, admin, **overrides), 422, "invalid-request")
        assert await count_rows(platform, "partners") == 0

    async def test_a_body_that_is_not_json_is_malformed(self, http, admin, platform):
        headers = {**admin, "content-type": "application/json"}
        assert_problem(
            await http.post(PARTNERS, content=b"{partner_id:", headers=headers), 400, "malformed-json"
        )
        assert await count_rows(platform, "partners") == 0


def secrets_in(doc: Any) -> list[str]:
    """Every key anywhere in ``doc`` that names a secret."""
    if isinstance(doc, dict):
        return [k for k in doc if "secret" in k.lower()] + [s for v in doc.values() for s in secrets_in(v)]
    if isinstance(doc, list):
        return [s for v in doc for s in secrets_in(v)]
    return []


class TestListPartners:
    async def test_the_list_shows_partners_and_keys_but_never_a_secret(self, http, admin, platform):
        k1 = await make_partner(platform, "transit_st")
        k2 = (await http.post(f"{PARTNERS}/transit_st/keys", headers=admin)).json()
        await http.put(f"{PARTNERS}/transit_st/webhook", json={"url": "https://t.example/h"}, headers=admin)
        response = await http.get(PARTNERS, headers=admin)
        assert response.status_code == 200
        [partner] = response.json()
        assert partner["partner_id"] == "transit_st" and partner["webhook_url"] == "https://t.example/h"
        assert [(k["key_id"], k["status"]) for k in partner["keys"]] == [("k1", "active"), ("k2", "active")]
        assert secrets_in(response.json()) == []
        assert k1.secret not in response.text and k2["secret"] not in response.text
        assert "v1:" not in response.text  # no sealed secret either


class TestKeys:
    async def test_rotate_then_revoke_then_rotate_again(self, http, admin, platform):
        await make_partner(platform, "transit_st")
        rotated = await http.post(f"{PARTNERS}/transit_st/keys", headers=admin)
        assert rotated.status_code == 201 and rotated.json()["key_id"] == "k2"
        assert_problem(await http.post(f"{PARTNERS}/transit_st/keys", headers=admin), 409, "too-many-keys")
        assert await count_rows(platform, "partner_keys") == 2

        revoked = await http.delete(f"{PARTNERS}/transit_st/keys/k1", headers=admin)
        assert revoked.status_code == 204
        third = await http.post(f"{PARTNERS}/transit_st/keys", headers=admin)
        assert third.json()["key_id"] == "k3"
        [partner] = (await http.get(PARTNERS, headers=admin)).json()
        assert {k["key_id"]: k["status"] for k in partner["keys"]} == {
            "k1": "revoked",
            "k2": "active",
            "k3": "active",
        }

    async def test_a_revoked_key_no_longer_signs(self, http, admin, platform):
        creds = await make_partner(platform, "transit_st")
        assert (await signed(http, creds, "GET", "/v1/partner/actions/x")).status_code == 404
        await http.delete(f"{PARTNERS}/transit_st/keys/k1", headers=admin)
        assert_problem(await signed(http, creds, "GET", "/v1/partner/actions/x"), 401, "revoked-key")

    async def test_keys_of_an_unknown_partner_or_an_unknown_key_are_404(self, http, admin, platform):
        await make_partner(platform, "transit_st")
        assert_problem(await http.post(f"{PARTNERS}/nobody_here/keys", headers=admin), 404, "unknown-partner")
        assert_problem(await http.post(f"{PARTNERS}/bad%00id/keys", headers=admin), 404, "unknown-partner")
        assert_problem(await http.delete(f"{PARTNERS}/transit_st/keys/k7", headers=admin), 404, "unknown-key")
        assert await count_rows(platform, "partner_keys") == 1


class TestWebhook:
    async def test_an_admin_sets_and_clears_a_webhook(self, http, admin, platform):
        await make_partner(platform, "transit_st")
        url = f"{PARTNERS}/transit_st/webhook"
        response = await http.put(url, json={"url": "https://t.example/h"}, headers=admin)
        assert response.status_code == 200
        assert response.json()["url"] == "https://t.example/h"
        assert response.json()["secret"].startswith("whsec_")
        cleared = (await http.put(url, json={"url": None}, headers=admin)).json()
        assert cleared == {"url": None, "secret": None}

    @pytest.mark.parametrize("url", ["ftp://t.example/h", "https://t.example/\u0000", "https://"])
    async def test_a_bad_url_is_refused(self, http, admin, platform, url):
        await make_partner(platform, "transit_st")
        response = await http.put(f"{PARTNERS}/transit_st/webhook", json={"url": url}, headers=admin)
        assert_problem(response, 422, "invalid-request")

    async def test_the_webhook_of_an_unknown_partner_is_404(self, http, admin):
        response = await http.put(
            f"{PARTNERS}/nobody_here/webhook", json={"url": "https://x.example"}, headers=admin
        )
        assert_problem(response, 404, "unknown-partner")


ROUTES = [
    ("GET", PARTNERS, None),
    ("POST", PARTNERS, NEW_PARTNER),
    ("POST", f"{PARTNERS}/transit_st/keys", None),
    ("DELETE", f"{PARTNERS}/transit_st/keys/k1", None),
    ("PUT", f"{PARTNERS}/transit_st/webhook", {"url": "https://evil.example/h"}),
]


def _citizen(p: Platform) -> dict[str, str]:
    return bearer(p, "citizen")


def _expired(p: Platform) -> dict[str, str]:
    return bearer(p, ttl=600, now=int(time.time()) - 3600)


def _foreign_key(p: Platform) -> dict[str, str]:
    now = int(time.time())
    claims = {"sub": "x", "role": "admin", "aud": "tanhui:console", "iss": p.settings.jwt_issuer}
    token = jwt.encode(
        {**claims, "iat": now, "exp": now + 600, "jti": "j"}, "another-key-of-at-least-32-bytes!!!"
    )
    return {"authorization": f"Bearer {token}"}


CALLERS = [
    ("no token", lambda p: {}, 401, "invalid-token"),
    ("another scheme", lambda p: {"authorization": "Basic YWRtaW46YWRtaW4="}, 401, "invalid-token"),
    (
        "a partner signature",
        lambda p: {"authorization": 'TANHUI-HMAC-SHA256 partner="x"'},
        401,
        "invalid-token",
    ),
    ("a citizen token", _citizen, 401, "invalid-token"),
    ("an expired admin token", _expired, 401, "invalid-token"),
    ("an admin token signed with another key", _foreign_key, 401, "invalid-token"),
    ("an auditor token", lambda p: bearer(p, "auditor"), 403, "forbidden"),
    ("a merchant token", lambda p: bearer(p, "merchant"), 403, "forbidden"),
]


class TestAuthorisation:
    @pytest.mark.parametrize(("method", "path", "payload"), ROUTES, ids=[f"{r[0]} {r[1]}" for r in ROUTES])
    @pytest.mark.parametrize(("caller", "headers", "status", "code"), CALLERS, ids=[c[0] for c in CALLERS])
    async def test_only_an_admin_may_manage_partners(
        self, http, platform, method, path, payload, caller, headers, status, code
    ):
        # given
        await make_partner(platform, "transit_st")
        # when
        response = await http.request(method, path, json=payload, headers=headers(platform))
        # then
        assert_problem(response, status, code)
        assert await count_rows(platform, "partners") == 1
        [partner] = (await http.get(PARTNERS, headers=bearer(platform))).json()
        assert partner["webhook_url"] is None
        assert [(k["key_id"], k["status"]) for k in partner["keys"]] == [("k1", "active")]
