"""backend.auth.signatures: the server's side of the contract's request signature."""

from __future__ import annotations

import hashlib

import pytest
from hypothesis import given
from hypothesis import strategies as st

from backend.auth.errors import BadNonce, BadSignature, MalformedAuthorization, StaleTimestamp
from backend.auth.signatures import (
    SignedHeader,
    canonical,
    check_clock,
    check_signature,
    parse_authorization,
    sign,
)
from partners.sdk import Credentials, authorization_header

SECRET = "tsk_live_3f9a1c7e5b2d4f6a8c0e1b3d5f7a9c2e"
TIMESTAMP = 1795997700
VECTOR_BODY = (
    b'{"actions":[{"event_id":"bus-20261124-000001","user":"wx_o6_demo_0001","type":"trip",'
    b'"occurred_at":"2026-11-24T08:15:00+08:00","region":"440507",'
    b'"data":{"mode":"bus","distance_m":5200,"duration_s":1380}}]}'
)
CREDS = Credentials("transit_st", "k1", SECRET)


def header(**params: str) -> str:
    values = {
        "partner": "transit_st",
        "key": "k1",
        "timestamp": str(TIMESTAMP),
        "nonce": "n0nce8f3a9c2b1d4e5f",
        "signature": "c2ln",
        **params,
    }
    return "TANHUI-HMAC-SHA256 " + ",".join(f'{k}="{v}"' for k, v in values.items())


class TestContractVectors:
    def test_the_vector_body_hashes_into_the_canonical_request(self):
        text = canonical("POST", "/v1/partner/actions", TIMESTAMP, "n0nce8f3a9c2b1d4e5f", VECTOR_BODY)
        digest = "f022518d7834630ce2392c0c672d07eb3d9902764aad17f33d8e6cc5ce287635"
        assert text == f"POST\n/v1/partner/actions\n{TIMESTAMP}\nn0nce8f3a9c2b1d4e5f\n{digest}\n".encode()

    def test_the_post_actions_vector_signs_as_the_contract_says(self):
        text = canonical("POST", "/v1/partner/actions", TIMESTAMP, "n0nce8f3a9c2b1d4e5f", VECTOR_BODY)
        assert sign(SECRET, text) == "HkvUWOc5OsLUMK8NmS3et7v7orV2dQO5OEopwaEZOzg="

    def test_the_get_outcome_vector_with_an_empty_body_signs_as_the_contract_says(self):
        path = "/v1/partner/actions/bus-20261124-000001"
        text = canonical("GET", path, TIMESTAMP, "n0nce8f3a9c2b1d4e60", b"")
        assert text.endswith(f"\n{hashlib.sha256(b'').hexdigest()}\n".encode())
        assert sign(SECRET, text) == "t0PjP6nRbN4fomSVqZM9Q0MWtO8INXvELK4w7Z2kO5o="

    def test_the_method_is_upper_cased(self):
        lower = canonical("post", "/v1/partner/actions", TIMESTAMP, "n0nce8f3a9c2b1d4e5f", VECTOR_BODY)
        assert lower.startswith(b"POST\n")


MALFORMED = [
    "",
    "TANHUI-HMAC-SHA256",
    "Bearer abc",
    header().replace("TANHUI-HMAC-SHA256", "TANHUI-HMAC-SHA512"),
    header().replace('"', "'"),
    header() + ',key="k2"',
    header() + ',extra="x"',
    header().replace(',key="k1"', ""),
    header(partner="ab"),
    header(partner="Transit"),
    header(key="k-1"),
    header(key="k" * 33),
    header(timestamp=""),
    header(timestamp="17959977OO"),
    header(timestamp="-1"),
    header(timestamp="1" * 13),
    header(timestamp="\u00b2"),
    header(timestamp="\u0661\u0662\u0663"),  # Arabic-Indic digits
]


class TestParseAuthorization:
    def test_a_well_formed_header_parses(self):
        parsed = parse_authorization(header())
        assert parsed == SignedHeader("transit_st", "k1", TIMESTAMP, "n0nce8f3a9c2b1d4e5f", "c2ln")

    def test_spaces_around_parameters_are_allowed(self):
        assert parse_authorization(header().replace(",", " , ")).key_id == "k1"

    @pytest.mark.parametrize("value", MALFORMED, ids=repr)
    def test_a_malformed_header_is_refused(self, value):
        with pytest.raises(MalformedAuthorization):
            parse_authorization(value)

    @pytest.mark.parametrize(
        "nonce", ["a" * 15, "a" * 65, "", "n0nce-8f3a9c2b1d4e5f", "n0nce_8f3a9c2b1d4e5f", "ñ" * 20], ids=repr
    )
    def test_a_nonce_of_the_wrong_form_is_refused(self, nonce):
        with pytest.raises(BadNonce):
            parse_authorization(header(nonce=nonce))

    @pytest.mark.parametrize("nonce", ["a" * 16, "Z9" * 32])
    def test_nonces_of_16_and_64_characters_are_allowed(self, nonce):
        assert parse_authorization(header(nonce=nonce)).nonce == nonce


class TestCheckClock:
    @pytest.mark.parametrize("skew", [-300, 0, 300])
    def test_a_timestamp_within_300_seconds_is_fresh(self, skew):
        check_clock(parse_authorization(header()), TIMESTAMP + skew, 300)

    @pytest.mark.parametrize("skew", [-301, 301, 10**9])
    def test_a_timestamp_further_than_300_seconds_is_stale(self, skew):
        with pytest.raises(StaleTimestamp):
            check_clock(parse_authorization(header()), TIMESTAMP + skew, 300)


def _signed(secret: str, method: str, path: str, body: bytes) -> SignedHeader:
    return parse_authorization(
        authorization_header(Credentials("transit_st", "k1", secret), method, path, body, TIMESTAMP)
    )


class TestCheckSignature:
    def test_the_sdk_signature_holds(self):
        check_signature(
            SECRET,
            _signed(SECRET, "POST", "/v1/partner/actions", b"{}"),
            "POST",
            "/v1/partner/actions",
            b"{}",
        )

    @pytest.mark.parametrize(
        ("method", "path", "body"),
        [
            ("PUT", "/v1/partner/actions", b"{}"),
            ("POST", "/v1/partner/actions?x=1", b"{}"),
            ("POST", "/v1/partner/actions", b"{ }"),
        ],
    )
    def test_any_change_to_method_path_or_body_breaks_it(self, method, path, body):
        with pytest.raises(BadSignature):
            check_signature(SECRET, _signed(SECRET, "POST", "/v1/partner/actions", b"{}"), method, path, body)

    def test_another_secret_breaks_it_and_the_error_reveals_neither_secret_nor_expected_signature(self):
        signed = _signed(SECRET + "x", "GET", "/v1/partner/actions/x", b"")
        expected = sign(SECRET, canonical("GET", "/v1/partner/actions/x", TIMESTAMP, signed.nonce, b""))
        with pytest.raises(BadSignature) as err:
            check_signature(SECRET, signed, "GET", "/v1/partner/actions/x", b"")
        assert SECRET not in err.value.detail and expected not in err.value.detail

    @pytest.mark.parametrize("signature", ["", "x", "é" * 44, "HkvUWOc5OsLUMK8NmS3et7v7orV2dQO5OEopwaEZOzg"])
    def test_a_garbled_signature_is_bad_not_an_error(self, signature):
        signed = parse_authorization(header(signature=signature))
        with pytest.raises(BadSignature):
            check_signature(SECRET, signed, "POST", "/v1/partner/actions", VECTOR_BODY)

    @given(
        method=st.sampled_from(["GET", "POST", "PUT", "DELETE"]),
        path=st.from_regex(r"/v1/partner/[a-z0-9/%._~-]{0,40}(\?[a-z0-9=&%]{1,20})?", fullmatch=True),
        body=st.binary(max_size=256),
        secret=st.text(min_size=1, max_size=40),
    )
    def test_the_server_accepts_whatever_the_sdk_signs(self, method, path, body, secret):
        check_signature(secret, _signed(secret, method, path, body), method, path, body)
