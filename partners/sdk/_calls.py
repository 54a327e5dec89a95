"""Each endpoint once: what it sends and how its answer parses, shared by the sync and async clients."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from itertools import islice
from typing import Any, Generic, TypeVar
from urllib.parse import quote as url_quote

import httpx

from .models import BatchResult, Binding, CitizenToken, Outcome, Quote, WebhookRegistration

T = TypeVar("T")

MAX_BATCH = 1000
"""The contract's limit of actions per report request."""


@dataclass(frozen=True)
class Call(Generic[T]):
    """One API call: method, path (relative to the base URL), JSON payload or None, and answer parser."""

    method: str
    path: str
    payload: Any
    parse: Callable[[httpx.Response], T]


def _json(model: Callable[[Mapping[str, Any]], T]) -> Callable[[httpx.Response], T]:
    return lambda response: model(response.json())


def _nothing(response: httpx.Response) -> None:
    return None


def bind(user: str, mobile: str) -> Call[Binding]:
    return Call("POST", "/v1/partner/bindings", {"user": user, "mobile": mobile}, _json(Binding.from_json))


def report_batch(actions: Sequence[Mapping[str, Any]]) -> Call[BatchResult]:
    if not 1 <= len(actions) <= MAX_BATCH:
        raise ValueError(f"a batch holds 1 to {MAX_BATCH} actions, got {len(actions)}")
    payload = {"actions": [dict(action) for action in actions]}
    return Call("POST", "/v1/partner/actions", payload, _json(BatchResult.from_json))


def report_chunks(actions: Iterable[Mapping[str, Any]]) -> Iterator[Call[BatchResult]]:
    """One report call per consecutive run of at most MAX_BATCH actions, consumed lazily."""
    iterator = iter(actions)
    while chunk := list(islice(iterator, MAX_BATCH)):
        yield report_batch(chunk)


def outcome(event_id: str) -> Call[Outcome]:
    if not event_id:
        raise ValueError("event_id must not be empty")
    path = f"/v1/partner/actions/{url_quote(event_id, safe='')}"
    return Call("GET", path, None, _json(Outcome.from_json))


def citizen_token(user: str) -> Call[CitizenToken]:
    return Call("POST", "/v1/partner/citizen-tokens", {"user": user}, _json(CitizenToken.from_json))


def quote(action: Mapping[str, Any]) -> Call[Quote]:
    # The contract quotes an ACTION without event_id and user; dropping them lets callers quote
    # the very action they are about to report.
    payload = {key: value for key, value in action.items() if key not in ("event_id", "user")}
    return Call("POST", "/v1/partner/quote", payload, _json(Quote.from_json))


def set_webhook(url: str) -> Call[WebhookRegistration]:
    return Call("PUT", "/v1/partner/webhook", {"url": url}, _json(WebhookRegistration.from_json))


def delete_webhook() -> Call[None]:
    return Call("DELETE", "/v1/partner/webhook", None, _nothing)
