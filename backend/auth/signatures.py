"""The contract's request signature: parsing the header and checking the HMAC.

canonical = METHOD \\n PATH?QUERY \\n timestamp \\n nonce \\n hex(SHA-256(body)) \\n
signature = base64(HMAC-SHA256(secret, canonical))
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
from dataclasses import dataclass

from backend.auth.errors import BadNonce, BadSignature, MalformedAuthorization, StaleTimestamp

SCHEME = "TANHUI-HMAC-SHA256"
_PARAM = re.compile(r'\s*([a-z]+)="([^"]*)"\s*')
_NONCE = re.compile(r"[A-Za-z0-9]{16,64}")
_PARTNER = re.compile(r"[a-z0-9_]{3,32}")
_KEY = re.compile(r"[A-Za-z0-9_]{1,32}")
_TIMESTAMP = re.compile(r"[0-9]{1,12}")  # ASCII only: str.isdigit() also admits "²"
_FIELDS = ("partner", "key", "timestamp", "nonce", "signature")


@dataclass(frozen=True, slots=True)
class SignedHeader:
    partner_id: str
    key_id: str
    timestamp: int
    nonce: str
    signature: str


def parse_authorization(value: str) -> SignedHeader:
    """Parse ``TANHUI-HMAC-SHA256 partner="…",key="…",…``; raises MalformedAuthorization."""
    scheme, _, rest = value.strip().partition(" ")
    if scheme != SCHEME:
        raise MalformedAuthorization(f"the scheme must be {SCHEME}")
    params: dict[str, str] = {}
    for part in rest.split(","):
        match = _PARAM.fullmatch(part)
        if not match or match.group(1) in params:
            raise MalformedAuthorization('parameters must be name="value", separated by commas, once each')
        params[match.group(1)] = match.group(2)
    missing = [f for f in _FIELDS if f not in params]
    if missing or len(params) != len(_FIELDS):
        raise MalformedAuthorization(f"expected exactly the parameters {', '.join(_FIELDS)}")
    if not _PARTNER.fullmatch(params["partner"]) or not _KEY.fullmatch(params["key"]):
        raise MalformedAuthorization("partner or key has the wrong form")
    if not _TIMESTAMP.fullmatch(params["timestamp"]):
        raise MalformedAuthorization("timestamp must be Unix seconds")
    if not _NONCE.fullmatch(params["nonce"]):
        raise BadNonce("nonce must be 16-64 characters of [A-Za-z0-9]")
    return SignedHeader(
        params["partner"], params["key"], int(params["timestamp"]), params["nonce"], params["signature"]
    )


def check_clock(header: SignedHeader, now: float, skew_s: int) -> None:
    if abs(now - header.timestamp) > skew_s:
        raise StaleTimestamp(f"timestamp {header.timestamp} is more than {skew_s} s from the server's clock")


def canonical(method: str, path_query: str, timestamp: int, nonce: str, body: bytes) -> bytes:
    digest = hashlib.sha256(body).hexdigest()
    return f"{method.upper()}\n{path_query}\n{timestamp}\n{nonce}\n{digest}\n".encode()


def sign(secret: str, message: bytes) -> str:
    return base64.b64encode(hmac.new(secret.encode(), message, hashlib.sha256).digest()).decode()


def check_signature(secret: str, header: SignedHeader, method: str, path_query: str, body: bytes) -> None:
    """Constant-time comparison of the given signature with the expected one."""
    expected = sign(secret, canonical(method, path_query, header.timestamp, header.nonce, body))
    if not hmac.compare_digest(expected.encode(), header.signature.encode()):
        raise BadSignature("the signature does not match method, path, query, timestamp, nonce and body")
