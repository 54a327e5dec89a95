"""Redemption codes: what a citizen shows and what a merchant's scan or typing proves.

The QR carries a token ``THR1.{reservation_id}.{expires_at}.{mac}``: the reservation, the Unix
second it dies, and 128 bits of HMAC-SHA256 under the platform's key, so a scan is checked without
a lookup and cannot be forged or stretched. Short enough (about 60 characters) for a low-density
QR that cheap scanners read. The short code is for typing when a scan fails: ten Crockford base32
characters (50 bits) derived from the same key, looked up by its hash; it cannot be derived
without the key, and a guess hits one of the live codes with negligible odds.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
from dataclasses import dataclass

from points_engine.redemption.errors import CodeExpired, InvalidCode

PREFIX = "THR1"
ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"  # Crockford: no I, L, O, U
SHORT_LENGTH = 10
_MAC_BYTES = 16
_TOKEN = re.compile(r"THR1\.(r_[0-9a-f]{24})\.([0-9]{1,12})\.([A-Za-z0-9_-]{22})")
_RESERVATION_ID = re.compile(r"r_[0-9a-f]{24}")
# What people mistype for what they meant (Crockford's decoding rules).
_READ_AS = str.maketrans({"O": "0", "I": "1", "L": "1"})


@dataclass(frozen=True, slots=True)
class ScannedCode:
    reservation_id: str
    expires_at: int  # Unix seconds


def sign(key: bytes, reservation_id: str, expires_at: int) -> str:
    """The token a QR carries for ``reservation_id``, valid until ``expires_at`` (Unix seconds)."""
    if not _RESERVATION_ID.fullmatch(reservation_id) or expires_at < 0:
        raise InvalidCode(f"cannot sign {reservation_id!r} until {expires_at}")
    body = f"{PREFIX}.{reservation_id}.{expires_at}"
    return f"{body}.{_b64(_mac(key, body))}"


def verify(key: bytes, token: str) -> ScannedCode:
    """The reservation and expiry a token names; ``InvalidCode`` unless we signed it exactly so.
    Whether it is still live is for the reservation to say (a used code reports "used", not "expired")."""
    match = _TOKEN.fullmatch(token.strip()) if isinstance(token, str) else None
    if match is None:
        raise InvalidCode("not a redemption code")
    reservation_id, expires, mac = match.groups()
    body = f"{PREFIX}.{reservation_id}.{expires}"
    if not hmac.compare_digest(_b64(_mac(key, body)), mac):
        raise InvalidCode("the code's signature does not match")
    return ScannedCode(reservation_id, int(expires))


def read(key: bytes, token: str, now: int) -> ScannedCode:
    """``verify``, then ``CodeExpired`` once ``now`` (Unix seconds) has reached the expiry; the
    signature is checked first, so a forged token never learns whether it would have been live."""
    scanned = verify(key, token)
    if now >= scanned.expires_at:
        raise CodeExpired(f"the code expired at {scanned.expires_at} (Unix seconds)")
    return scanned


def short_code(key: bytes, reservation_id: str) -> str:
    """The code a person types, ``XXXXX-XXXXX``."""
    digest = hmac.new(key, f"short|{reservation_id}".encode(), hashlib.sha256).digest()
    number = int.from_bytes(digest[:8], "big") >> (64 - 5 * SHORT_LENGTH)
    chars = [ALPHABET[(number >> (5 * i)) & 31] for i in reversed(range(SHORT_LENGTH))]
    half = SHORT_LENGTH // 2
    return "".join(chars[:half]) + "-" + "".join(chars[half:])


def normalize_short(typed: str) -> str:
    """The canonical form of a typed short code (case, dashes, spaces and O/I/L forgiven);
    ``InvalidCode`` if it cannot be one."""
    if not isinstance(typed, str) or len(typed) > 32:
        raise InvalidCode("not a short code")
    chars = re.sub(r"[\s-]", "", typed).upper().translate(_READ_AS)
    if len(chars) != SHORT_LENGTH or any(c not in ALPHABET for c in chars):
        raise InvalidCode(f"a short code is {SHORT_LENGTH} characters of {ALPHABET}")
    half = SHORT_LENGTH // 2
    return chars[:half] + "-" + chars[half:]


def lookup_hash(short: str) -> str:
    """What the database keeps of a short code: its SHA-256 (the code alone opens a reservation)."""
    return hashlib.sha256(normalize_short(short).encode()).hexdigest()


def _mac(key: bytes, body: str) -> bytes:
    return hmac.new(key, body.encode(), hashlib.sha256).digest()[:_MAC_BYTES]


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()
