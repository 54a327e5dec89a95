"""The request signature of the partner API contract (TANHUI-HMAC-SHA256), usable on its own."""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets
import time
from dataclasses import dataclass, field

__all__ = [
    "SCHEME",
    "Credentials",
    "authorization_header",
    "canonical_request",
    "new_nonce",
    "parse_authorization",
    "sign",
]

SCHEME = "TANHUI-HMAC-SHA256"
_PARTNER_ID = re.compile(r"[a-z0-9_]{3,32}")
_KEY_ID = re.compile(r"[A-Za-z0-9_]{1,32}")
_PARAM = re.compile(r'\s*([a-z]+)="([^"]*)"\s*')
_FIELDS = ("partner", "key", "timestamp", "nonce", "signature")
_NONCE = re.compile(r"[A-Za-z0-9]{16,64}")
_TIMESTAMP = re.compile(r"[0-9]{1,12}")


@dataclass(frozen=True)
class Credentials:
    """A partner key: the ids go in the Authorization header, the secret never leaves the process."""

    partner_id: str
    key_id: str
    secret: str = field(repr=False)

    def __post_init__(self) -> None:
        if not _PARTNER_ID.fullmatch(self.partner_id):
            raise ValueError(f"partner_id must match [a-z0-9_]{{3,32}}, got {self.partner_id!r}")
        if not _KEY_ID.fullmatch(self.key_id):
            raise ValueError(f"key_id must match [A-Za-z0-9_]{{1,32}}, got {self.key_id!r}")
        if not self.secret:
            raise ValueError("secret must not be empty")


def new_nonce() -> str:
    """A fresh nonce: 32 characters of [0-9a-f] from the `secrets` module."""
    return secrets.token_hex(16)


def canonical_request(
    method: str, path_with_query: str, timestamp: int | str, nonce: str, body: bytes
) -> bytes:
    """The signed text: method, path?query, timestamp, nonce and hex sha256(body), each line ending in \\n."""
    body_hash = hashlib.sha256(body).hexdigest()
    return f"{method.upper()}\n{path_with_query}\n{timestamp}\n{nonce}\n{body_hash}\n".encode()


def sign(
    secret: str, method: str, path_with_query: str, timestamp: int | str, nonce: str, body: bytes
) -> str:
    """base64(HMAC-SHA256(secret as UTF-8, canonical request)), as the contract defines `signature`."""
    canonical = canonical_request(method, path_with_query, timestamp, nonce, body)
    digest = hmac.new(secret.encode(), canonical, hashlib.sha256).digest()
    return base64.b64encode(digest).decode("ascii")


def authorization_header(
    creds: Credentials,
    method: str,
    path_with_query: str,
    body: bytes,
    timestamp: int | None = None,
    nonce: str | None = None,
) -> str:
    """The full Authorization header value; timestamp defaults to now and nonce to a fresh one."""
    ts = int(time.time()) if timestamp is None else int(timestamp)
    nonce = new_nonce() if nonce is None else nonce
    signature = sign(creds.secret, method, path_with_query, ts, nonce, body)
    return (
        f'{SCHEME} partner="{creds.partner_id}",key="{creds.key_id}",'
        f'timestamp="{ts}",nonce="{nonce}",signature="{signature}"'
    )


def parse_authorization(value: str) -> dict[str, str] | None:
    """The five parameters of a TANHUI-HMAC-SHA256 header, or None when it is not exactly that shape.

    The timestamp must be decimal digits and the nonce 16-64 characters of [A-Za-z0-9].
    """
    scheme, _, params = value.strip().partition(" ")
    if scheme != SCHEME:
        return None
    parsed: dict[str, str] = {}
    for part in params.split(","):
        match = _PARAM.fullmatch(part)
        if match is None or match[1] in parsed:
            return None
        parsed[match[1]] = match[2]
    if sorted(parsed) != sorted(_FIELDS):
        return None
    if not (_TIMESTAMP.fullmatch(parsed["timestamp"]) and _NONCE.fullmatch(parsed["nonce"])):
        return None
    return parsed
