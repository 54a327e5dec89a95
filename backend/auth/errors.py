"""Authentication and authorisation failures, one code each (rendered as 401 or 403)."""

from __future__ import annotations

from backend.errors import app_error

MissingAuthorization = app_error("missing-authorization")
MalformedAuthorization = app_error("malformed-authorization")
StaleTimestamp = app_error("stale-timestamp")
BadNonce = app_error("bad-nonce")
ReplayedNonce = app_error("replayed-nonce")
UnknownSigner = app_error("unknown-partner-or-key")
RevokedKey = app_error("revoked-key")
BadSignature = app_error("bad-signature")
InvalidToken = app_error("invalid-token")
Forbidden = app_error("forbidden")
