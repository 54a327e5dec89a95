"""The bench's partners and citizens: partners through the admin service, citizens bound through
HTTP with the SDK, as a partner would bind its users."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from backend.admin_api import partners as partner_admin
from backend.context import Platform
from backend.demo import ALL_REGIONS, DEMO_PARTNERS
from backend.settings import Settings
from partners.sdk import Credentials, TanhuiClient
from partners.simulators import bind_all

BIND_CHUNK = 500
BIND_THREADS = 16


def create_partners(settings: Settings) -> dict[str, Credentials]:
    """One partner per simulator kind (the demo's ids and permissions, every region); kind -> key."""

    async def main() -> dict[str, Credentials]:
        platform = await Platform.open(settings)
        try:
            creds = {}
            for kind, (partner_id, name, types) in DEMO_PARTNERS.items():
                issued = await partner_admin.create_partner(platform, partner_id, types, ALL_REGIONS, name)
                creds[kind] = Credentials(issued.partner_id, issued.key_id, issued.secret)
            return creds
        finally:
            await platform.close()

    return asyncio.run(main())


def bind_users(
    base_urls: dict[str, str],
    creds: dict[str, Credentials],
    bindings: dict[str, list[tuple[str, str]]],
    on_done: Callable[[int], None],
) -> dict[str, Any]:
    """Bind every (user, mobile) at its partner with the SDK's `bind_all`; counts summed over partners."""
    totals: dict[str, Any] = {"bindings": 0, "bindings_created": 0, "binding_errors": 0}
    sample = None
    for kind, pairs in bindings.items():
        with TanhuiClient(base_urls[kind], creds[kind], timeout=60.0) as client:
            for start in range(0, len(pairs), BIND_CHUNK):
                chunk = pairs[start : start + BIND_CHUNK]
                summary = bind_all(client, chunk, workers=BIND_THREADS)
                for key in totals:
                    totals[key] += summary[key]
                sample = sample or summary["binding_error_sample"]
                on_done(len(chunk))
    return {**totals, "binding_error_sample": sample}
