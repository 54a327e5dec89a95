"""Exceptions the SDK raises: one for API answers, one for webhook deliveries that fail verification."""

from __future__ import annotations

import json
from typing import Any

import httpx

__all__ = ["ApiError", "WebhookVerificationError"]


class ApiError(Exception):
    """The API answered with a non-2xx status; `problem` is its RFC 9457 problem document."""

    def __init__(self, status: int, problem: dict[str, Any]) -> None:
        self.status = status
        self.problem = problem
        super().__init__(status, problem)

    @classmethod
    def from_response(cls, response: httpx.Response) -> ApiError:
        """Build the error from any non-2xx response, synthesising a problem when the body is not one."""
        try:
            problem = response.json()
        except (json.JSONDecodeError, UnicodeDecodeError):
            problem = None
        if not isinstance(problem, dict):
            problem = {
                "type": "about:blank",
                "title": response.reason_phrase,
                "status": response.status_code,
                "detail": response.text[:500],
            }
        return cls(response.status_code, problem)

    @property
    def type(self) -> str:
        """The stable problem type URI (`about:blank` when the server sent none)."""
        return str(self.problem.get("type") or "about:blank")

    @property
    def title(self) -> str:
        return str(self.problem.get("title") or "")

    @property
    def detail(self) -> str:
        return str(self.problem.get("detail") or "")

    @property
    def errors(self) -> list[Any]:
        """Per-item errors of a rejected batch, when the server listed them."""
        errors = self.problem.get("errors")
        return list(errors) if isinstance(errors, list) else []

    def __str__(self) -> str:
        text = f"HTTP {self.status} {self.title or 'error'}"
        if self.detail:
            text += f": {self.detail}"
        return f"{text} [{self.type}]"


class WebhookVerificationError(Exception):
    """A webhook delivery failed verification; `reason` is a stable code such as `bad-signature`."""

    def __init__(self, reason: str, message: str = "") -> None:
        self.reason = reason
        super().__init__(f"{reason}: {message}" if message else reason)
