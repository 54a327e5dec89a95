"""The signature on a webhook delivery: the contract's request scheme, signed by the platform.

The partner verifies it with the secret that registering the webhook returned (``partners.sdk.
verify_webhook``); the header names ``key="webhook"`` so it is never mistaken for a partner key.
"""

from __future__ import annotations

import secrets
import time

from backend.auth.signatures import SCHEME, canonical, sign

KEY_ID = "webhook"


def authorization(
    partner_id: str,
    secret: str,
    method: str,
    path_query: str,
    body: bytes,
    *,
    timestamp: int | None = None,
    nonce: str | None = None,
) -> str:
    """The Authorization header for one delivery; timestamp defaults to now, nonce to a fresh one."""
    ts = int(time.time()) if timestamp is None else timestamp
    nonce = secrets.token_hex(16) if nonce is None else nonce
    signature = sign(secret, canonical(method, path_query, ts, nonce, body))
    return (
        f'{SCHEME} partner="{partner_id}",key="{KEY_ID}",'
        f'timestamp="{ts}",nonce="{nonce}",signature="{signature}"'
    )
