"""Ids carry their kind (``c_…`` citizen, ``tx_…`` transaction): readable in logs, never mixed up."""

from __future__ import annotations

import secrets
import time

_ALPHABET = "0123456789abcdefghjkmnpqrstvwxyz"  # Crockford base32, lower case


def new_id(kind: str) -> str:
    """``<kind>_`` + 26 chars: 48-bit millisecond time then 80 random bits, so ids sort by creation."""
    value = (int(time.time() * 1000) << 80) | secrets.randbits(80)
    chars = []
    for _ in range(26):
        value, rem = divmod(value, 32)
        chars.append(_ALPHABET[rem])
    return f"{kind}_{''.join(reversed(chars))}"
