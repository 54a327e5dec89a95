"""The request signature of the partner API contract, and webhook verification built on it."""

import hashlib
import json
import re

import pytest

from partners.sdk import (
    Credentials,
    WebhookVerificationError,
    authorization_header,
    canonical_request,
    sign,
    verify_webhook,
)

SECRET = "tsk_live_3f9a1c7e5b2d4f6a8c0e1b3d5f7a9c2e"
TIMESTAMP = 1795997700
VECTOR_BODY = (
    b'{"actions":[{"event_id":"bus-20261124-000001","user":"wx_o6_demo_0001","type":"trip",'
    b'"occurred_at":"2026-11-24T08:15:00+08:00","region":"440507",'
    b'"data":{"mode":"bus","distance_m":5200,"duration_s":1380}}]}'
)
EMPTY_SHA256 = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"


class TestContractVectors:
    def test_vector_body_hashes_as_the_contract_says(self):
        assert hashlib.sha256(VECTOR_BODY).hexdigest() == (
            "f022518d7834630ce2392c0c672d07eb3d9902764aad17f33d8e6cc5ce287635"
        )

    def test_post_actions_vector_signs_as_the_contract_says(self):
        signature = sign(SECRET, "POST", "/v1/partner/actions", TIMESTAMP, "n0nce8f3a9c2b1d4e5f", VECTOR_BODY)
        assert signature == "HkvUWOc5OsLUMK8NmS3et7v7orV2dQO5OEopwaEZOzg="

    def test_get_outcome_vector_with_empty_body_signs_as_the_contract_says(self):
        path = "/v1/partner/actions/bus-20261124-000001"
        signature = sign(SECRET, "GET", path, TIMESTAMP, "n0nce8f3a9c2b1d4e60", b"")
        assert signature == "t0PjP6nRbN4fomSVqZM9Q0MWtO8INXvELK4w7Z2kO5o="


class TestCanonicalRequest:
    def test_is_five_lines_each_ended_by_a_newline(self):
        canonical = canonical_request(
            "GET", "/v1/partner/actions/x?a=1", TIMESTAMP, "n0nce8f3a9c2b1d4e60", b""
        )
        assert (
            canonical
            == f"GET\n/v1/partner/actions/x?a=1\n1795997700\nn0nce8f3a9c2b1d4e60\n{EMPTY_SHA256}\n".encode()
        )

    def test_signature_covers_the_query_string(self):
        plain = sign(SECRET, "GET", "/v1/partner/actions/x", TIMESTAMP, "n0nce8f3a9c2b1d4e60", b"")
        queried = sign(SECRET, "GET", "/v1/partner/actions/x?a=1", TIMESTAMP, "n0nce8f3a9c2b1d4e60", b"")
        assert plain != queried


class TestAuthorizationHeader:
    def test_carries_partner_key_timestamp_nonce_and_signature(self):
        creds = Credentials(partner_id="transit_st", key_id="k1", secret=SECRET)
        header = authorization_header(
            creds, "POST", "/v1/partner/actions", VECTOR_BODY, TIMESTAMP, "n0nce8f3a9c2b1d4e5f"
        )
        assert header == (
            'TANHUI-HMAC-SHA256 partner="transit_st",key="k1",timestamp="1795997700",'
            'nonce="n0nce8f3a9c2b1d4e5f",signature="HkvUWOc5OsLUMK8NmS3et7v7orV2dQO5OEopwaEZOzg="'
        )

    def test_defaults_to_a_fresh_32_hex_nonce_each_time(self):
        creds = Credentials(partner_id="transit_st", key_id="k1", secret=SECRET)
        nonces = {
            re.search(r'nonce="([^"]*)"', authorization_header(creds, "GET", "/", b""))[1] for _ in range(50)
        }
        assert len(nonces) == 50
        assert all(re.fullmatch(r"[0-9a-f]{32}", nonce) for nonce in nonces)


class TestCredentials:
    def test_repr_does_not_reveal_the_secret(self):
        assert SECRET not in repr(Credentials(partner_id="transit_st", key_id="k1", secret=SECRET))

    @pytest.mark.parametrize(
        ("partner_id", "key_id"), [("Transit", "k1"), ("ts", "k1"), ("transit_st", 'k"1'), ("transit_st", "")]
    )
    def test_ids_outside_the_contract_alphabet_are_refused(self, partner_id, key_id):
        with pytest.raises(ValueError):
            Credentials(partner_id=partner_id, key_id=key_id, secret=SECRET)


WEBHOOK_SECRET = "whsec_5b2d4f6a8c0e1b3d"
WEBHOOK_PATH = "/hooks/tanhui"
DELIVERY = {
    "type": "action.settled",
    "data": {"event_id": "bus-20261124-000001", "status": "credited", "points": 12, "reduction_g": 1240},
}


def deliver(body=None, *, secret=WEBHOOK_SECRET, timestamp=TIMESTAMP, nonce="n0nce8f3a9c2b1d4e61"):
    """Headers and body as the platform would POST them to the partner's webhook."""
    body = json.dumps(DELIVERY).encode() if body is None else body
    creds = Credentials(partner_id="transit_st", key_id="webhook", secret=secret)
    header = authorization_header(creds, "POST", WEBHOOK_PATH, body, timestamp, nonce)
    return {"Authorization": header, "Content-Type": "application/json"}, body


def reason_of(headers, body, *, path=WEBHOOK_PATH, now=TIMESTAMP):
    with pytest.raises(WebhookVerificationError) as raised:
        verify_webhook(WEBHOOK_SECRET, "POST", path, headers, body, now=now)
    return raised.value.reason


class TestVerifyWebhook:
    def test_a_genuine_delivery_returns_its_json_body(self):
        headers, body = deliver()
        assert (
            verify_webhook(WEBHOOK_SECRET, "POST", WEBHOOK_PATH, headers, body, now=TIMESTAMP + 5) == DELIVERY
        )

    def test_header_names_are_matched_case_insensitively(self):
        headers, body = deliver()
        lowered = {name.lower(): value for name, value in headers.items()}
        assert verify_webhook(WEBHOOK_SECRET, "POST", WEBHOOK_PATH, lowered, body, now=TIMESTAMP) == DELIVERY

    def test_a_tampered_body_is_a_bad_signature(self):
        headers, body = deliver()
        assert reason_of(headers, body.replace(b'"points": 12', b'"points": 99')) == "bad-signature"

    def test_another_path_is_a_bad_signature(self):
        headers, body = deliver()
        assert reason_of(headers, body, path="/hooks/other") == "bad-signature"

    def test_a_wrong_secret_is_a_bad_signature(self):
        headers, body = deliver(secret="whsec_not_the_right_one")
        assert reason_of(headers, body) == "bad-signature"

    @pytest.mark.parametrize("skew", [-301, 301, -3600])
    def test_a_timestamp_outside_the_window_is_stale(self, skew):
        headers, body = deliver(timestamp=TIMESTAMP)
        assert reason_of(headers, body, now=TIMESTAMP + skew) == "stale-timestamp"

    def test_the_edge_of_the_window_is_still_fresh(self):
        headers, body = deliver()
        assert verify_webhook(WEBHOOK_SECRET, "POST", WEBHOOK_PATH, headers, body, now=TIMESTAMP - 300)

    @pytest.mark.parametrize(
        "mangle",
        [
            lambda header: header.replace("TANHUI-HMAC-SHA256", "Bearer"),
            lambda header: re.sub(r',signature="[^"]*"', "", header),
            lambda header: header + ',extra="1"',
            lambda header: re.sub(r'nonce="[^"]*"', 'nonce="short"', header),
            lambda header: re.sub(r'timestamp="[^"]*"', 'timestamp="soon"', header),
            lambda header: header.replace('"', ""),
            lambda header: "garbage",
        ],
        ids=["scheme", "no-signature", "extra-field", "short-nonce", "timestamp", "unquoted", "garbage"],
    )
    def test_a_malformed_authorization_header_is_refused(self, mangle):
        headers, body = deliver()
        headers["Authorization"] = mangle(headers["Authorization"])
        assert reason_of(headers, body) == "malformed-authorization"

    def test_a_missing_authorization_header_is_refused(self):
        _, body = deliver()
        assert reason_of({"Content-Type": "application/json"}, body) == "missing-authorization"

    def test_a_genuine_delivery_that_is_not_a_json_object_is_a_malformed_body(self):
        headers, body = deliver(b"[1, 2]")
        assert reason_of(headers, body) == "malformed-body"
