"""POST /v1/partner/citizen-tokens, and the JWT rules every citizen and operator token obeys."""

from __future__ import annotations

import time
from typing import Any

import jwt
import orjson
import pytest
from jwt.utils import base64url_encode

from backend.auth.errors import InvalidToken
from backend.auth.tokens import AUDIENCE, TokenService
from partners.sdk import ApiError
from tests.e2e.partner_api.test_signing import assert_problem, signed
from tests.factories import make_partner, mobile, sdk

JWT_KEY = "test-jwt-key-of-at-least-32-bytes!!"  # the conftest `settings` fixture's jwt_key
TOKENS = "/v1/partner/citizen-tokens"


@pytest.fixture
async def partner(platform, app):  # type: ignore[no-untyped-def]
    async with sdk(app, await make_partner(platform)) as client:
        yield client


BAD = [
    ("an empty object", b"{}", 422, "invalid-request"),
    ("a user of 65 characters", orjson.dumps({"user": "u" * 65}), 422, "invalid-request"),
    ("a user with U+0000", orjson.dumps({"user": "wx\u0000"}), 422, "invalid-request"),
    ("an extra field", orjson.dumps({"user": "u", "scope": "admin"}), 422, "invalid-request"),
    ("not JSON", b"user=u", 400, "malformed-json"),
]


class TestIssueCitizenToken:
    async def test_a_bound_user_gets_a_15_minute_hs256_token_for_its_citizen(self, partner, settings):
        binding = await partner.bind("wx_user_1", mobile(1))
        issued = await partner.citizen_token("wx_user_1")
        assert (issued.token_type, issued.expires_in) == ("Bearer", 900)
        assert jwt.get_unverified_header(issued.access_token)["alg"] == "HS256"
        claims = jwt.decode(
            issued.access_token,
            JWT_KEY,
            algorithms=["HS256"],
            audience="tanhui:citizen",
            issuer=settings.jwt_issuer,
        )
        assert claims["sub"] == binding.citizen_id and claims["role"] == "citizen"
        assert claims["aud"] == "tanhui:citizen" and claims["iss"] == settings.jwt_issuer
        assert claims["exp"] - claims["iat"] == 900
        assert abs(claims["iat"] - time.time()) < 60
        assert claims["jti"]

    async def test_every_token_has_its_own_jti(self, partner):
        await partner.bind("wx_user_1", mobile(1))
        first, second = [await partner.citizen_token("wx_user_1") for _ in range(2)]
        jtis = {
            jwt.decode(t.access_token, options={"verify_signature": False})["jti"] for t in (first, second)
        }
        assert len(jtis) == 2

    async def test_a_token_names_no_mobile_number(self, partner):
        await partner.bind("wx_user_1", mobile(1))
        token = (await partner.citizen_token("wx_user_1")).access_token
        claims = jwt.decode(token, options={"verify_signature": False})
        assert mobile(1)[1:] not in orjson.dumps(claims).decode()

    async def test_an_unbound_user_gets_no_token(self, partner):
        with pytest.raises(ApiError) as err:
            await partner.citizen_token("never_bound")
        assert (err.value.status, err.value.type) == (422, "https://tanhui.example/problems/unbound-user")

    async def test_a_user_bound_at_another_partner_is_unbound_here(self, partner, platform, app):
        await partner.bind("wx_user_1", mobile(1))
        async with sdk(app, await make_partner(platform, "bike_st")) as bike:
            with pytest.raises(ApiError) as err:
                await bike.citizen_token("wx_user_1")
        assert err.value.type.endswith("/unbound-user")

    @pytest.mark.parametrize(("case", "body", "status", "code"), BAD, ids=[b[0] for b in BAD])
    async def test_a_bad_body_is_refused(self, http, platform, case, body, status, code):
        creds = await make_partner(platform)
        assert_problem(await signed(http, creds, "POST", TOKENS, body), status, code)


def claims(**overrides: Any) -> dict[str, Any]:
    now = int(time.time())
    base = {
        "sub": "c_test",
        "role": "citizen",
        "aud": AUDIENCE["citizen"],
        "iss": "https://tanhui.example",
        "iat": now,
        "exp": now + 900,
        "jti": "j1",
    }
    return {k: v for k, v in {**base, **overrides}.items() if v is not None}


FORGED = [
    ("alg none", lambda: jwt.encode(claims(), None, algorithm="none")),
    ("HS512 with the right key", lambda: jwt.encode(claims(), JWT_KEY, algorithm="HS512")),
    ("expired", lambda: jwt.encode(claims(iat=int(time.time()) - 1000, exp=int(time.time()) - 1), JWT_KEY)),
    ("another audience", lambda: jwt.encode(claims(aud="tanhui:console"), JWT_KEY)),
    ("another issuer", lambda: jwt.encode(claims(iss="https://evil.example"), JWT_KEY)),
    ("a wrong key", lambda: jwt.encode(claims(), "another-jwt-key-of-at-least-32-bytes")),
    ("no exp", lambda: jwt.encode(claims(exp=None), JWT_KEY)),
    ("no jti", lambda: jwt.encode(claims(jti=None), JWT_KEY)),
    ("an operator role on the citizen audience", lambda: jwt.encode(claims(role="admin"), JWT_KEY)),
    ("no role", lambda: jwt.encode(claims(role=None), JWT_KEY)),
    ("a tampered payload", lambda: _tampered()),
    ("not a JWT", lambda: "not.a.jwt"),
]


def _tampered() -> str:
    header, _, signature = jwt.encode(claims(), JWT_KEY).split(".")
    payload = base64url_encode(orjson.dumps(claims(sub="c_someone_else"))).decode()
    return f"{header}.{payload}.{signature}"


class TestTokenVerification:
    @pytest.fixture
    def tokens(self, settings) -> TokenService:  # type: ignore[no-untyped-def]
        return TokenService(JWT_KEY, settings.jwt_issuer)

    def test_a_well_formed_token_is_accepted(self, tokens):
        principal = tokens.verify(jwt.encode(claims(), JWT_KEY), AUDIENCE["citizen"])
        assert (principal.sub, principal.role) == ("c_test", "citizen")

    def test_a_minted_token_round_trips(self, tokens):
        token = tokens.mint("c_x", "citizen", 900, int(time.time()))
        assert tokens.verify(token, AUDIENCE["citizen"]).sub == "c_x"

    @pytest.mark.filterwarnings("ignore:The HMAC key is .* below the minimum")  # the HS512 forgery
    @pytest.mark.parametrize(("case", "forge"), FORGED, ids=[f[0] for f in FORGED])
    def test_a_forged_or_stale_token_is_rejected(self, tokens, case, forge):
        with pytest.raises(InvalidToken) as err:
            tokens.verify(forge(), AUDIENCE["citizen"])
        assert JWT_KEY not in err.value.detail

    def test_a_token_verified_once_is_refused_once_it_expires(self, tokens):
        # verified tokens are remembered (per process); expiry must still end them
        token = tokens.mint("c_x", "citizen", 2, int(time.time()))
        assert tokens.verify(token, AUDIENCE["citizen"]).sub == "c_x"
        assert tokens.verify(token, AUDIENCE["citizen"]).sub == "c_x"
        time.sleep(2.1)
        with pytest.raises(InvalidToken):
            tokens.verify(token, AUDIENCE["citizen"])

    def test_a_remembered_token_is_not_valid_for_another_audience(self, tokens):
        token = tokens.mint("c_x", "citizen", 900, int(time.time()))
        tokens.verify(token, AUDIENCE["citizen"])
        with pytest.raises(InvalidToken):
            tokens.verify(token, AUDIENCE["admin"])
