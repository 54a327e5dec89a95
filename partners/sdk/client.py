"""The synchronous client: one method per endpoint of the partner API."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from types import TracebackType
from typing import Any, TypeVar, cast

import httpx

from . import _calls
from ._calls import Call
from ._transport import Policy, Sleep, default_headers
from .models import BatchResult, Binding, CitizenToken, Outcome, Quote, WebhookRegistration
from .signing import Credentials

__all__ = ["TanhuiClient"]

T = TypeVar("T")
Action = Mapping[str, Any]


class TanhuiClient:
    """Signed, retrying access to the partner API over a pooled `httpx.Client`.

    5xx, 429 and network errors are retried up to `max_retries` times with the same body and a fresh
    signature; any other non-2xx raises `ApiError` at once. `sleep` exists so tests can skip waiting.
    """

    def __init__(
        self,
        base_url: str,
        credentials: Credentials,
        *,
        transport: httpx.BaseTransport | None = None,
        timeout: float = 10.0,
        max_retries: int = 5,
        backoff_base: float = 0.2,
        backoff_max: float = 10.0,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], object] = time.sleep,
    ) -> None:
        self._policy = Policy(credentials, clock, max_retries, backoff_base, backoff_max)
        self._sleep = sleep
        self._http = httpx.Client(
            base_url=base_url, transport=transport, timeout=timeout, headers=default_headers()
        )

    def bind(self, user: str, mobile: str) -> Binding:
        """Bind a user of the partner to the citizen owning `mobile` (idempotent; 409 on another mobile)."""
        return self._call(_calls.bind(user, mobile))

    def report(self, actions: Iterable[Action]) -> BatchResult:
        """Report any number of actions in requests of at most 1,000; results come back in order.

        If a later request fails, the error propagates although earlier ones were accepted; reporting
        the same actions again is safe, since already accepted ones come back as `duplicate`.
        """
        return BatchResult.merge(self._call(call) for call in _calls.report_chunks(actions))

    def report_batch(self, actions: Sequence[Action]) -> BatchResult:
        """Report 1 to 1,000 actions in exactly one request."""
        return self._call(_calls.report_batch(actions))

    def outcome(self, event_id: str) -> Outcome:
        """How the action reported as `event_id` settled, so far."""
        return self._call(_calls.outcome(event_id))

    def citizen_token(self, user: str) -> CitizenToken:
        """A short-lived token for the citizen endpoints on behalf of a bound user."""
        return self._call(_calls.citizen_token(user))

    def quote(self, action: Action) -> Quote:
        """What an action would earn before caps (its `event_id` and `user` are not sent); books nothing."""
        return self._call(_calls.quote(action))

    def set_webhook(self, url: str) -> WebhookRegistration:
        """Register (or replace) the settlement callback URL; keep the returned secret, it is shown once."""
        return self._call(_calls.set_webhook(url))

    def delete_webhook(self) -> None:
        """Stop settlement callbacks."""
        self._call(_calls.delete_webhook())

    def close(self) -> None:
        """Release pooled connections."""
        self._http.close()

    def __enter__(self) -> TanhuiClient:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def _call(self, call: Call[T]) -> T:
        steps = self._policy.exchange(self._http, call)
        try:
            step = next(steps)
            while True:
                if isinstance(step, Sleep):
                    self._sleep(step.seconds)
                    step = steps.send(None)
                    continue
                try:
                    response = self._http.send(step)
                except httpx.TransportError as exc:
                    step = steps.throw(exc)
                    continue
                step = steps.send(response)
        except StopIteration as done:
            return cast(T, done.value)
