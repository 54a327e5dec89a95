"""Signing and the retry policy as one sans-I/O exchange, driven by the sync and the async client alike.

`exchange` is a generator: it yields an `httpx.Request` to send (and is sent back the response, or
has the transport error thrown into it) or a `Sleep` to wait, and finally returns the parsed answer.
"""

from __future__ import annotations

import json
import math
import random
from collections.abc import Callable, Generator
from dataclasses import dataclass
from datetime import date, datetime
from email.utils import parsedate_to_datetime
from typing import Any, TypeVar

import httpx

from ._calls import Call
from .errors import ApiError
from .signing import Credentials, authorization_header, new_nonce

T = TypeVar("T")

USER_AGENT = "tanhui-sdk-python/0.1"
HttpClient = httpx.Client | httpx.AsyncClient


@dataclass(frozen=True)
class Sleep:
    """A pause the driver must take before the exchange continues."""

    seconds: float


Step = httpx.Request | Sleep


def _json_default(value: object) -> str:
    # Actions often carry datetimes; the contract wants RFC 3339 with an offset, so naive ones are refused.
    if isinstance(value, datetime):
        if value.utcoffset() is None:
            raise TypeError(f"naive datetime {value!r}: occurred_at needs a UTC offset")
        return value.isoformat()
    if isinstance(value, date):
        return value.isoformat()
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


def encode_body(payload: Any) -> bytes:
    """Compact UTF-8 JSON, exactly the bytes that are signed and sent (empty for no payload)."""
    if payload is None:
        return b""
    text = json.dumps(payload, separators=(",", ":"), ensure_ascii=False, default=_json_default)
    return text.encode()


def is_retryable(status: int) -> bool:
    """429 and 5xx may succeed later; every other 4xx (stale-timestamp 401 included) will not."""
    return status == 429 or status >= 500


@dataclass(frozen=True)
class Policy:
    """Who signs, and how patiently to retry: exponential backoff with full jitter, honouring Retry-After."""

    credentials: Credentials
    clock: Callable[[], float]
    max_retries: int = 5
    backoff_base: float = 0.2
    backoff_max: float = 10.0

    def __post_init__(self) -> None:
        if self.max_retries < 0:
            raise ValueError("max_retries must be >= 0")
        if self.backoff_base < 0 or self.backoff_max < 0:
            raise ValueError("backoff_base and backoff_max must be >= 0")

    def prepare(self, http: HttpClient, method: str, path: str, body: bytes) -> httpx.Request:
        """Build the request first, then sign the path and query exactly as they go on the wire."""
        headers = {"Content-Type": "application/json"} if body else {}
        request = http.build_request(method, path, content=body or None, headers=headers)
        wire_path = request.url.raw_path.decode("ascii")
        request.headers["Authorization"] = authorization_header(
            self.credentials, method, wire_path, body, int(self.clock()), new_nonce()
        )
        return request

    def delay(self, attempt: int, response: httpx.Response | None) -> float:
        """Seconds to wait before retry number `attempt + 1`."""
        retry_after = _retry_after(response, self.clock) if response is not None else None
        if retry_after is not None:
            return retry_after
        return random.uniform(0, min(self.backoff_max, self.backoff_base * 2**attempt))

    def exchange(self, http: HttpClient, call: Call[T]) -> Generator[Step, httpx.Response | None, T]:
        """Send `call` until it succeeds, fails for good, or retries run out; re-sign every attempt."""
        body = encode_body(call.payload)
        for attempt in range(self.max_retries + 1):
            last = attempt == self.max_retries
            try:
                response = yield self.prepare(http, call.method, call.path, body)
            except httpx.TransportError:
                if last:
                    raise
                yield Sleep(self.delay(attempt, None))
                continue
            if response is None:
                raise TypeError("the driver must send back a response for every request")
            if response.is_success:
                return call.parse(response)
            error = ApiError.from_response(response)
            if last or not is_retryable(response.status_code):
                raise error
            yield Sleep(self.delay(attempt, response))
        raise AssertionError("unreachable: the last attempt returns or raises")


def _retry_after(response: httpx.Response, clock: Callable[[], float]) -> float | None:
    value = response.headers.get("Retry-After")
    if value is None:
        return None
    try:
        seconds = float(value)
    except ValueError:
        try:
            seconds = parsedate_to_datetime(value).timestamp() - clock()
        except (TypeError, ValueError):
            return None
    return max(0.0, seconds) if math.isfinite(seconds) else None


def default_headers() -> dict[str, str]:
    """Headers every request carries."""
    return {"User-Agent": USER_AGENT, "Accept": "application/json, application/problem+json"}
