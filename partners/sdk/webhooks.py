"""Verifying the platform's signed webhook deliveries on the partner's side."""

from __future__ import annotations

import hmac
import json
import time
from collections.abc import Mapping
from typing import Any

from .errors import WebhookVerificationError
from .signing import parse_authorization, sign

__all__ = ["verify_webhook"]


def verify_webhook(
    secret: str,
    method: str,
    path: str,
    headers: Mapping[str, str],
    body: bytes,
    *,
    now: float | None = None,
    tolerance_s: int = 300,
) -> dict[str, Any]:
    """Return the delivery's JSON object if the platform signed exactly this request recently enough.

    `path` is the path and query as received; `secret` is the one `set_webhook` returned. Raises
    `WebhookVerificationError` with `reason` one of `missing-authorization`,
    `malformed-authorization`, `bad-signature`, `stale-timestamp`, `malformed-body`. Deliveries are
    at least once, and nonces are not remembered here: dedupe by `data.event_id`.
    """
    header = _header(headers, "authorization")
    if header is None:
        raise WebhookVerificationError("missing-authorization", "no Authorization header")
    params = parse_authorization(header)
    if params is None:
        raise WebhookVerificationError("malformed-authorization", "not a TANHUI-HMAC-SHA256 header")
    expected = sign(secret, method, path, params["timestamp"], params["nonce"], body)
    if not hmac.compare_digest(expected.encode(), params["signature"].encode()):
        raise WebhookVerificationError("bad-signature", "the signature does not match this request")
    current = time.time() if now is None else now
    if abs(current - int(params["timestamp"])) > tolerance_s:
        raise WebhookVerificationError("stale-timestamp", f"timestamp is more than {tolerance_s} s away")
    try:
        payload = json.loads(body)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise WebhookVerificationError("malformed-body", "the body is not JSON") from exc
    if not isinstance(payload, dict):
        raise WebhookVerificationError("malformed-body", "the body is not a JSON object")
    return payload


def _header(headers: Mapping[str, str], name: str) -> str | None:
    for key, value in headers.items():
        if key.lower() == name:
            return value
    return None
