"""What the API answers, as frozen dataclasses; unknown fields are ignored, optional ones may be missing."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

__all__ = ["BatchResult", "Binding", "CitizenToken", "ItemResult", "Outcome", "Quote", "WebhookRegistration"]


@dataclass(frozen=True)
class Binding:
    """The citizen a partner's user is bound to; `created` is False when the binding already existed."""

    citizen_id: str
    created: bool

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Binding:
        return cls(citizen_id=str(data["citizen_id"]), created=bool(data["created"]))


@dataclass(frozen=True)
class ItemResult:
    """The fate of one reported action: `accepted`, `duplicate` or `rejected` (with its `problem`)."""

    event_id: str
    status: str
    problem: dict[str, Any] | None = None

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> ItemResult:
        problem = data.get("problem")
        return cls(
            event_id=str(data["event_id"]),
            status=str(data["status"]),
            problem=dict(problem) if isinstance(problem, Mapping) else None,
        )


@dataclass(frozen=True)
class BatchResult:
    """One result per reported action, in the order reported, with the counts of each status."""

    results: list[ItemResult]
    accepted: int
    duplicates: int
    rejected: int

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> BatchResult:
        return cls(
            results=[ItemResult.from_json(item) for item in data.get("results", [])],
            accepted=int(data.get("accepted", 0)),
            duplicates=int(data.get("duplicates", 0)),
            rejected=int(data.get("rejected", 0)),
        )

    @classmethod
    def merge(cls, parts: Iterable[BatchResult]) -> BatchResult:
        """Concatenate results in order and sum the counts (an empty iterable gives an empty result)."""
        results: list[ItemResult] = []
        accepted = duplicates = rejected = 0
        for part in parts:
            results.extend(part.results)
            accepted += part.accepted
            duplicates += part.duplicates
            rejected += part.rejected
        return cls(results=results, accepted=accepted, duplicates=duplicates, rejected=rejected)


@dataclass(frozen=True)
class Outcome:
    """How an accepted action settled: `pending`, `credited`, `capped` (see `reasons`) or `rejected`."""

    event_id: str
    status: str
    citizen_id: str | None = None
    reduction_g: int = 0
    points: int = 0
    methodology: str | None = None
    book: str | None = None
    reasons: list[str] = field(default_factory=list)

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Outcome:
        citizen_id, methodology, book = data.get("citizen_id"), data.get("methodology"), data.get("book")
        return cls(
            event_id=str(data["event_id"]),
            status=str(data["status"]),
            citizen_id=None if citizen_id is None else str(citizen_id),
            reduction_g=int(data.get("reduction_g") or 0),
            points=int(data.get("points") or 0),
            methodology=None if methodology is None else str(methodology),
            book=None if book is None else str(book),
            reasons=[str(reason) for reason in data.get("reasons") or []],
        )


@dataclass(frozen=True)
class CitizenToken:
    """A short-lived bearer token for the citizen endpoints, on behalf of one citizen."""

    access_token: str = field(repr=False)
    token_type: str
    expires_in: int

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> CitizenToken:
        return cls(
            access_token=str(data["access_token"]),
            token_type=str(data.get("token_type", "Bearer")),
            expires_in=int(data["expires_in"]),
        )


@dataclass(frozen=True)
class Quote:
    """What an action would earn before caps; nothing is booked."""

    reduction_g: int
    points: int
    methodology: str

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Quote:
        return cls(
            reduction_g=int(data["reduction_g"]),
            points=int(data["points"]),
            methodology=str(data["methodology"]),
        )


@dataclass(frozen=True)
class WebhookRegistration:
    """The registered callback URL and its signing secret (the API shows the secret only this once)."""

    url: str
    secret: str = field(repr=False)

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> WebhookRegistration:
        return cls(url=str(data["url"]), secret=str(data["secret"]))
