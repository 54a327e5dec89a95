"""Tanhui (碳惠) partner SDK: signed, retrying access to the partner API, sync and async.

Implements partner API contract v1 and depends on nothing but the standard library and httpx::

    from partners.sdk import ApiError, Credentials, TanhuiClient

    creds = Credentials(partner_id="transit_st", key_id="k1", secret="tsk_...")
    actions = [
        {
            "event_id": "bus-20261124-000001",
            "user": "wx_o6_demo_0001",
            "type": "trip",
            "occurred_at": "2026-11-24T08:15:00+08:00",
            "region": "440507",
            "data": {"mode": "bus", "distance_m": 5200, "duration_s": 1380},
        },
    ]
    with TanhuiClient("https://api.tanhui.example", creds) as client:
        client.bind(user="wx_o6_demo_0001", mobile="+8613800000000")
        result = client.report(actions)  # any number; sent 1,000 per request, results in order
        for item in result.results:
            if item.status == "rejected":
                print(item.event_id, item.problem)
        try:
            print(client.outcome("bus-20261124-000001").points)
        except ApiError as error:
            print(error.status, error.type, error.detail)

`AsyncTanhuiClient` has the same methods as coroutines (`async with`, `aclose()`).

- Every request is signed (TANHUI-HMAC-SHA256) over the exact path, query and body bytes sent.
- 5xx, 429 and network errors are retried with the same body (so the same event ids: safe, the API
  answers `duplicate` for what it already accepted), a fresh timestamp, nonce and signature, and
  exponential backoff with full jitter, honouring `Retry-After`. Other errors raise `ApiError`.
- `verify_webhook` checks a settlement callback the platform POSTs to the partner.
- `verify_proof` checks offline that an action is inside a certification run (`tanhui-verify` CLI).
"""

from typing import TYPE_CHECKING, Any

from .aio import AsyncTanhuiClient
from .client import TanhuiClient
from .errors import ApiError, WebhookVerificationError
from .models import BatchResult, Binding, CitizenToken, ItemResult, Outcome, Quote, WebhookRegistration
from .signing import Credentials, authorization_header, canonical_request, sign
from .webhooks import verify_webhook

if TYPE_CHECKING:
    from .proofs import ProofError, VerifiedLeaf, verify_proof

__all__ = [
    "ApiError",
    "AsyncTanhuiClient",
    "BatchResult",
    "Binding",
    "CitizenToken",
    "Credentials",
    "ItemResult",
    "Outcome",
    "ProofError",
    "Quote",
    "TanhuiClient",
    "VerifiedLeaf",
    "WebhookRegistration",
    "WebhookVerificationError",
    "authorization_header",
    "canonical_request",
    "sign",
    "verify_proof",
    "verify_webhook",
]


def __getattr__(name: str) -> Any:
    # The proof verifier loads on first use, so that `python -m partners.sdk.proofs` does not find
    # it already imported by this package (runpy would warn) and the client stays light.
    if name in ("ProofError", "VerifiedLeaf", "verify_proof"):
        from . import proofs

        return getattr(proofs, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
