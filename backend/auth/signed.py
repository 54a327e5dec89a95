"""Authenticate a partner's signed request: size, header, clock, key, signature, nonce — in that order."""

from __future__ import annotations

import re
import time
from dataclasses import dataclass

from fastapi import Request

from backend.auth.errors import MissingAuthorization, ReplayedNonce, RevokedKey, UnknownSigner
from backend.auth.partners import PartnerRecord
from backend.auth.signatures import check_clock, check_signature, parse_authorization
from backend.context import Platform
from backend.errors import BodyTooLarge

_DIGITS = re.compile(r"[0-9]+")  # ASCII only: str.isdigit() also admits "²"


@dataclass(frozen=True, slots=True)
class SignedRequest:
    partner: PartnerRecord
    key_id: str
    body: bytes

    @property
    def partner_id(self) -> str:
        return self.partner.partner_id


async def authenticate(request: Request, platform: Platform) -> SignedRequest:
    """The verified partner and the exact body bytes it signed; raises a typed error otherwise.

    The nonce is recorded only once the signature holds, so a forged request cannot burn a nonce.
    """
    settings = platform.settings
    body = await _read_capped(request, settings.max_body_bytes)
    value = request.headers.get("authorization")
    if not value:
        raise MissingAuthorization("send an Authorization: TANHUI-HMAC-SHA256 header (see the contract)")
    header = parse_authorization(value)
    check_clock(header, time.time(), settings.clock_skew_s)
    record = await platform.partners.lookup(header.partner_id)
    key = record.keys.get(header.key_id) if record else None
    if record is None or key is None:
        raise UnknownSigner(f"no key {header.key_id!r} for partner {header.partner_id!r}")
    sealed, status = key
    if status != "active":
        raise RevokedKey(f"key {header.key_id!r} has been revoked")
    secret = platform.partners.secret(header.partner_id, header.key_id, sealed)
    check_signature(secret, header, request.method, _path_query(request), body)
    fresh = await platform.redis.set(
        platform.keys.nonce(header.partner_id, header.nonce), b"1", nx=True, ex=settings.nonce_ttl_s
    )
    if not fresh:
        raise ReplayedNonce(f"nonce {header.nonce} was used within the last {settings.nonce_ttl_s} s")
    return SignedRequest(partner=record, key_id=header.key_id, body=body)


def _path_query(request: Request) -> str:
    """The path and query exactly as sent on the wire (what the partner signed)."""
    raw = request.scope.get("raw_path") or request.url.path.encode()
    query = request.scope.get("query_string", b"")
    return (raw + b"?" + query).decode("latin-1") if query else raw.decode("latin-1")


async def _read_capped(request: Request, limit: int) -> bytes:
    declared = request.headers.get("content-length")
    if declared and _DIGITS.fullmatch(declared) and int(declared) > limit:
        raise BodyTooLarge(f"the body is {declared} bytes; the limit is {limit}")
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise BodyTooLarge(f"the body exceeds {limit} bytes")
        chunks.append(chunk)
    return b"".join(chunks)
