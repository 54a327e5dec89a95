"""Bearer-token callers and the roles each route admits."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from fastapi import Request

from backend.auth.errors import Forbidden, InvalidToken
from backend.auth.tokens import AUDIENCE, Principal, Role


def bearer(*roles: Role) -> Callable[[Request], Awaitable[Principal]]:
    """A dependency admitting a valid bearer token of one of ``roles`` (401 without one, 403 for others)."""
    audiences = {AUDIENCE[r] for r in roles}

    async def caller(request: Request) -> Principal:
        scheme, _, token = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not token:
            raise InvalidToken("send Authorization: Bearer <token>")
        platform = request.app.state.platform
        last: InvalidToken | None = None
        for audience in sorted(audiences):
            try:
                principal: Principal = platform.tokens.verify(token, audience)
            except InvalidToken as exc:
                last = exc
                continue
            if principal.role not in roles:
                raise Forbidden(f"role {principal.role!r} may not do this")
            return principal
        raise last or InvalidToken("invalid token")

    return caller
