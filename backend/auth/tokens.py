"""JWTs for citizens (minted for partners' mini-programs) and operators (admin, auditor, merchant).

Pinned to HS256, always with ``exp``, ``iat``, ``aud``, ``iss``, ``sub``, ``jti`` and a ``role``.
"""

from __future__ import annotations

import secrets
import time
from dataclasses import dataclass
from typing import Any, Literal, TypeAlias

import jwt

from backend.auth.errors import InvalidToken

ALGORITHM = "HS256"
Role: TypeAlias = Literal["citizen", "admin", "auditor", "merchant"]
ROLES: tuple[Role, ...] = ("citizen", "admin", "auditor", "merchant")
AUDIENCE: dict[Role, str] = {
    "citizen": "tanhui:citizen",
    "admin": "tanhui:console",
    "auditor": "tanhui:console",
    "merchant": "tanhui:console",
}


@dataclass(frozen=True, slots=True)
class Principal:
    sub: str
    role: Role
    claims: dict[str, Any]


class TokenService:
    # Verified tokens, so a till scanning all day or a citizen's page re-asking does not pay for a
    # signature check per request (~0.1 ms). Only exp can make a verified token invalid later.
    CACHE_SIZE = 4096

    def __init__(self, key: str, issuer: str) -> None:
        self._key, self._issuer = key, issuer
        self._verified: dict[tuple[str, str], Principal] = {}

    def mint(self, sub: str, role: Role, ttl_s: int, now: int, **extra: Any) -> str:
        claims = {
            "sub": sub,
            "role": role,
            "aud": AUDIENCE[role],
            "iss": self._issuer,
            "iat": now,
            "exp": now + ttl_s,
            "jti": secrets.token_hex(12),
            **extra,
        }
        return jwt.encode(claims, self._key, algorithm=ALGORITHM)

    def verify(self, token: str, audience: str) -> Principal:
        """The token's principal; raises InvalidToken on any failure (algorithm, signature, exp, aud, iss)."""
        known = self._verified.get((token, audience))
        if known is not None:
            if known.claims["exp"] > time.time():
                return known
            del self._verified[(token, audience)]
        principal = self._decode(token, audience)
        if len(self._verified) >= self.CACHE_SIZE:
            del self._verified[next(iter(self._verified))]  # the oldest
        self._verified[(token, audience)] = principal
        return principal

    def _decode(self, token: str, audience: str) -> Principal:
        try:
            claims = jwt.decode(
                token,
                self._key,
                algorithms=[ALGORITHM],
                audience=audience,
                issuer=self._issuer,
                options={"require": ["exp", "iat", "aud", "iss", "sub", "jti"]},
            )
        except jwt.PyJWTError as exc:
            raise InvalidToken(f"the token is not valid: {exc}") from exc
        role = claims.get("role")
        if role not in ROLES or AUDIENCE[role] != audience:
            raise InvalidToken("the token carries no role valid for this audience")
        return Principal(sub=claims["sub"], role=role, claims=claims)
