"""POST /v1/partner/quote (prices one action, books nothing) and PUT/DELETE /v1/partner/webhook."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
import pytest
from sqlalchemy import select
from sqlmodel import SQLModel

from backend.context import Platform
from tests.e2e.partner_api.test_signing import assert_problem, count_rows, signed
from tests.factories import CITY, make_partner, sdk, trip

QUOTE = "/v1/partner/quote"
WEBHOOK = "/v1/partner/webhook"


def body(**overrides: Any) -> dict[str, Any]:
    """A quotable action: a trip without event_id and user."""
    action = trip(**overrides)
    return {k: v for k, v in action.items() if k not in ("event_id", "user")}


def paper(grams: int) -> dict[str, Any]:
    data = {"category": "recyclable", "material": "paper", "weight_g": grams, "station_id": "st-07"}
    return body(type="waste_sorting", data=data)


@pytest.fixture
async def partner(platform, app):  # type: ignore[no-untyped-def]
    async with sdk(app, await make_partner(platform)) as client:
        yield client


class TestQuote:
    async def test_a_bus_trip_of_5200_m_earns_139_g_and_139_points(self, partner, platform):
        quote = await partner.quote(trip())
        assert (quote.reduction_g, quote.points, quote.methodology) == (139, 139, "trip.bus@2026.1")
        assert await count_rows(platform, "actions") == 0

    async def test_a_kilogram_of_waste_paper_earns_1760_g(self, partner):
        quote = await partner.quote(paper(1000))
        assert (quote.reduction_g, quote.points) == (1760, 1760)
        assert quote.methodology == "waste.recyclable.paper@2026.1"

    async def test_an_action_in_nanao_is_quoted(self, partner):
        quote = await partner.quote(trip(region="440523"))
        assert (quote.reduction_g, quote.points) == (139, 139)

    async def test_quoting_books_nothing(self, partner, platform):
        for _ in range(3):
            await partner.quote(trip(user="never_bound"))
        assert [await count_rows(platform, t) for t in ("actions", "citizens", "bindings")] == [0, 0, 0]


def _at(delta: timedelta) -> str:
    return (datetime.now(UTC) + delta).isoformat()


BAD_QUOTES: list[tuple[str, Any, int, str]] = [
    ("a region the partner may not report in", body(region="440523"), 403, "forbidden-region"),
    ("a type the partner may not report", paper(1000), 403, "forbidden-type"),
    ("a zero distance", body(data={"mode": "bus", "distance_m": 0, "duration_s": 60}), 422, "invalid-action"),
    ("an unknown mode", body(data={"mode": "ufo", "distance_m": 9, "duration_s": 60}), 422, "invalid-action"),
    ("an unknown type", body(type="teleport"), 422, "unknown-type"),
    ("a region outside Shantou", body(region="110101"), 422, "unknown-region"),
    ("an event_id and user", trip(), 422, "invalid-action"),
    ("occurred_at without offset", body(occurred_at="2026-11-24T08:15:00"), 422, "invalid-action"),
    (
        "occurred_at a day ahead",  # far enough not to rot between collection and run
        body(occurred_at=_at(timedelta(days=1))),
        422,
        "occurred-at-out-of-window",
    ),
    ("occurred_at 8 days ago", body(occurred_at=_at(-timedelta(days=8))), 422, "occurred-at-out-of-window"),
    ("a list", [body()], 422, "invalid-action"),
    ("a string", "trip", 422, "invalid-action"),
]


class TestBadQuote:
    @pytest.mark.parametrize(("case", "action", "status", "code"), BAD_QUOTES, ids=[b[0] for b in BAD_QUOTES])
    async def test_an_invalid_action_is_answered_with_its_problem(
        self, http, platform, case, action, status, code
    ):
        creds = await make_partner(platform, types=["trip"], regions=CITY)
        response = await signed(http, creds, "POST", QUOTE, orjson.dumps(action))
        assert_problem(response, status, code)
        assert await count_rows(platform, "actions") == 0

    async def test_a_body_that_is_not_json_is_malformed(self, http, platform):
        creds = await make_partner(platform)
        assert_problem(await signed(http, creds, "POST", QUOTE, b"{type: trip}"), 400, "malformed-json")

    async def test_a_body_over_1_mib_is_too_large(self, http, platform):
        creds = await make_partner(platform)
        response = await signed(http, creds, "POST", QUOTE, orjson.dumps(body()) + b" " * 1024 * 1024)
        assert_problem(response, 413, "body-too-large")

    @pytest.mark.parametrize("instant", ["9999-12-31T23:59:59-23:59", "0001-01-01T00:00:00+01:00"])
    async def test_an_occurred_at_at_the_ends_of_the_calendar_is_invalid_not_a_500(
        self, http, platform, instant
    ):
        creds = await make_partner(platform)
        response = await signed(http, creds, "POST", QUOTE, orjson.dumps(body(occurred_at=instant)))
        assert_problem(response, 422, "invalid-action")


async def stored_webhook(platform: Platform, partner_id: str) -> tuple[str | None, str | None]:
    partners = SQLModel.metadata.tables["partners"]
    query = select(partners.c.webhook_url, partners.c.webhook_secret_enc).where(
        partners.c.partner_id == partner_id
    )
    async with platform.db.read() as conn:
        url, sealed = (await conn.execute(query)).one()
    return url, sealed


BAD_URLS: list[Any] = [
    "ftp://transit.example/hook",
    "transit.example/hook",
    "javascript:alert(1)",
    "https://",
    "https://transit.example/a hook",
    "https://transit.example/\u0000",
    "https://transit.example/" + "a" * 2000,
    None,
    42,
]


class TestWebhook:
    async def test_registering_returns_the_url_and_a_secret_kept_only_sealed(self, partner, platform):
        registered = await partner.set_webhook("https://transit.example/tanhui/settled")
        assert registered.url == "https://transit.example/tanhui/settled"
        assert registered.secret.startswith("whsec_") and len(registered.secret) > 30
        url, sealed = await stored_webhook(platform, "transit_st")
        assert url == registered.url
        assert sealed is not None and registered.secret not in sealed
        assert platform.box.open(sealed, "webhook:transit_st") == registered.secret

    async def test_the_new_url_is_seen_at_once_by_every_process(self, partner, platform):
        await partner.set_webhook("https://a.example/hook")  # fills the shared partner cache
        await partner.set_webhook("https://b.example/hook")
        record = await platform.partners.lookup("transit_st")
        assert record is not None and record.webhook_url == "https://b.example/hook"

    async def test_registering_again_issues_a_new_secret(self, partner):
        first = await partner.set_webhook("https://transit.example/hook")
        second = await partner.set_webhook("https://transit.example/hook")
        assert first.secret != second.secret

    async def test_deleting_stops_deliveries(self, partner, http, platform):
        creds = await make_partner(platform, "bike_st")
        await signed(http, creds, "PUT", WEBHOOK, orjson.dumps({"url": "https://bike.example/hook"}))
        response = await signed(http, creds, "DELETE", WEBHOOK)
        assert response.status_code == 204 and response.content == b""
        assert await stored_webhook(platform, "bike_st") == (None, None)

    @pytest.mark.parametrize("url", BAD_URLS, ids=lambda u: repr(u)[:40])
    async def test_a_bad_url_is_refused_and_the_old_one_kept(self, partner, http, platform, url):
        creds = await make_partner(platform, "bike_st")
        await signed(http, creds, "PUT", WEBHOOK, orjson.dumps({"url": "https://bike.example/hook"}))
        before = await stored_webhook(platform, "bike_st")
        response = await signed(http, creds, "PUT", WEBHOOK, orjson.dumps({"url": url}))
        assert_problem(response, 422, "invalid-request")
        assert await stored_webhook(platform, "bike_st") == before
