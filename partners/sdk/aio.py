"""The asynchronous client: one method per endpoint of the partner API."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from types import TracebackType
from typing import Any, TypeVar, cast

import httpx

from . import _calls
from ._calls import Call
from ._transport import Policy, Sleep, default_headers
from .models import BatchResult, Binding, CitizenToken, Outcome, Quote, WebhookRegistration
from .signing import Credentials

__all__ = ["AsyncTanhuiClient"]

T = TypeVar("T")
Action = Mapping[str, Any]


class AsyncTanhuiClient:
    """Signed, retrying access to the partner API over a pooled `httpx.AsyncClient`.

    5xx, 429 and network errors are retried up to `max_retries` times with the same body and a fresh
    signature; any other non-2xx raises `ApiError` at once. `sleep` exists so tests can skip waiting.
    """

    def __init__(
        self,
        base_url: str,
        credentials: Credentials,
        *,
        transport: httpx.AsyncBaseTransport | None = None,
        timeout: float = 10.0,
        max_retries: int = 5,
        backoff_base: float = 0.2,
        backoff_max: float = 10.0,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], Awaitable[object]] = asyncio.sleep,
    ) -> None:
        self._policy = Policy(credentials, clock, max_retries, backoff_base, backoff_max)
        self._sleep = sleep
        self._http = httpx.AsyncClient(
            base_url=base_url, transport=transport, timeout=timeout, headers=default_headers()
        )

    async def bind(self, user: str, mobile: str) -> Binding:
        """Bind a user of the partner to the citizen owning `mobile` (idempotent; 409 on another mobile)."""
        return await self._call(_calls.bind(user, mobile))

    async def report(self, actions: Iterable[Action]) -> BatchResult:
        """Report any number of actions in requests of at most 1,000; results come back in order.

        If a later request fails, the error propagates although earlier ones were accepted; reporting
        the same actions again is safe, since already accepted ones come back as `duplicate`.
        """
        return BatchResult.merge([await self._call(call) for call in _calls.report_chunks(actions)])

    async def report_batch(self, actions: Sequence[Action]) -> BatchResult:
        """Report 1 to 1,000 actions in exactly one request."""
        return await self._call(_calls.report_batch(actions))

    async def outcome(self, event_id: str) -> Outcome:
        """How the action reported as `event_id` settled, so far."""
        return await self._call(_calls.outcome(event_id))

    async def citizen_token(self, user: str) -> CitizenToken:
        """A short-lived token for the citizen endpoints on behalf of a bound user."""
        return await self._call(_calls.citizen_token(user))

    async def quote(self, action: Action) -> Quote:
        """What an action would earn before caps (its `event_id` and `user` are not sent); books nothing."""
        return await self._call(_calls.quote(action))

    async def set_webhook(self, url: str) -> WebhookRegistration:
        """Register (or replace) the settlement callback URL; keep the returned secret, it is shown once."""
        return await self._call(_calls.set_webhook(url))

    async def delete_webhook(self) -> None:
        """Stop settlement callbacks."""
        await self._call(_calls.delete_webhook())

    async def aclose(self) -> None:
        """Release pooled connections."""
        await self._http.aclose()

    async def __aenter__(self) -> AsyncTanhuiClient:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.aclose()

    async def _call(self, call: Call[T]) -> T:
        steps = self._policy.exchange(self._http, call)
        try:
            step = next(steps)
            while True:
                if isinstance(step, Sleep):
                    await self._sleep(step.seconds)
                    step = steps.send(None)
                    continue
                try:
                    response = await self._http.send(step)
                except httpx.TransportError as exc:
                    step = steps.throw(exc)
                    continue
                step = steps.send(response)
        except StopIteration as done:
            return cast(T, done.value)
