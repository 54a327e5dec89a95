"""Authenticate a partner's signed request: size, header, clock, key, signature, nonce — in that order."""

from __future__ import annotations

import re
import time
from dataclasses import dataclass

from fastapi import Request

from backend.auth.errors import BadSignature, MissingAuthorization, ReplayedNonce, RevokedKey, UnknownSigner
from backend.auth.partners import Claim, KnownPartner, PartnerRecord
from backend.auth.signatures import SignedHeader, check_clock, check_signature, parse_authorization
from backend.context import Platform
from backend.errors import BodyTooLarge

_DIGITS = re.compile(r"[0-9]+")  # ASCII only: str.isdigit() also admits "²"
# Reads of the partner before its nonce is claimed whatever the partner's generation (as before
# the per-process cache): only changes landing between every read and its claim exhaust them.
_ATTEMPTS = 3


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
    record = await _verified(platform, header, request.method, _path_query(request), body)
    return SignedRequest(partner=record, key_id=header.key_id, body=body)


async def _verified(
    platform: Platform, header: SignedHeader, method: str, path_query: str, body: bytes
) -> PartnerRecord:
    """The signer's record, current when the nonce was claimed.

    The process's own copy of the record is tried first: the claim fails as stale if the partner
    changed since it was read, and a key or signature it refuses is judged again on a current read.
    """
    partners, ttl_s = platform.partners, platform.settings.nonce_ttl_s
    remembered = partners.remembered(header.partner_id)
    for attempt in range(1, _ATTEMPTS + 1):
        current = remembered is None
        candidate = await partners.read(header.partner_id) if current else remembered
        try:
            known = _check(platform, candidate, header, method, path_query, body)
        except (UnknownSigner, RevokedKey, BadSignature):
            if current:
                raise
            remembered = None
            continue
        if attempt < _ATTEMPTS:
            claim = await partners.claim_nonce(known, header.nonce, ttl_s)
        else:
            claim = await partners.claim_nonce_unchecked(header.partner_id, header.nonce, ttl_s)
        if claim is Claim.FRESH:
            return known.record
        if claim is Claim.REPLAYED:
            raise ReplayedNonce(f"nonce {header.nonce} was used within the last {ttl_s} s")
        remembered = None
    raise AssertionError("unreachable: the last attempt's claim is never stale")


def _check(
    platform: Platform,
    known: KnownPartner | None,
    header: SignedHeader,
    method: str,
    path_query: str,
    body: bytes,
) -> KnownPartner:
    """``known``, if it has the header's key, active, and the signature holds under it."""
    key = known.record.keys.get(header.key_id) if known else None
    if known is None or key is None:
        raise UnknownSigner(f"no key {header.key_id!r} for partner {header.partner_id!r}")
    if key[1] != "active":
        raise RevokedKey(f"key {header.key_id!r} has been revoked")
    check_signature(platform.partners.secret(known, header.key_id), header, method, path_query, body)
    return known


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
