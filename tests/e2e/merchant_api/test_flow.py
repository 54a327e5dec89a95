"""The path of a redemption through HTTP: a citizen sees offers and balances, reserves, shows the
QR; the till scans it (or types the short code); points, held points, stock and the merchant's
balance move exactly; a retry reserves once; a cancel gives everything back."""

from __future__ import annotations

import io
import re
from datetime import UTC, datetime, timedelta
from xml.etree import ElementTree

import zxingcpp
from PIL import Image

from backend.redemption import reservations
from tests.e2e.merchant_api.conftest import (
    ALICE,
    BOB,
    ledger_kinds,
    merchant_balance,
    redeem,
    reserve,
    wallet,
)
from tests.e2e.partner_api.test_signing import assert_problem
from tests.redemption_world import admin_headers, citizen_headers, fund, open_shop, pending, stock_left

SHORT_CODE = re.compile(r"[0-9A-HJKMNP-TV-Z]{5}-[0-9A-HJKMNP-TV-Z]{5}")


def at(value: str) -> datetime:
    return datetime.fromisoformat(value)


class TestReserveAndRedeem:
    async def test_a_citizen_sees_the_offer_and_their_balances(self, http, platform, shop, alice):
        await pending(platform, ALICE, 40)
        me = citizen_headers(platform, ALICE)

        offers = (await http.get("/v1/citizen/offers", headers=me)).json()
        balances = (await http.get("/v1/citizen/balances", headers=me)).json()

        assert [(o["offer_id"], o["price_points"], o["stock_left"]) for o in offers] == [
            (shop.offer.offer_id, 100, 10)
        ]
        assert (balances["available"], balances["held"], balances["pending"]) == (500, 0, 40)

    async def test_reserve_show_the_qr_and_redeem_it_by_scan(self, http, platform, shop, alice):
        me = citizen_headers(platform, ALICE)

        held = await reserve(http, platform, ALICE, shop.offer.offer_id)

        assert held["status"] == "reserved" and held["points"] == 100
        assert held["merchant_id"] == shop.merchant_id and held["title"] == shop.offer.title
        rid, code = held["reservation_id"], held["code"]
        assert code["token"].startswith(f"THR1.{rid}.")
        assert SHORT_CODE.fullmatch(code["short_code"])
        assert at(held["expires_at"]) - at(held["reserved_at"]) == timedelta(
            seconds=platform.settings.reservation_ttl_s
        )
        assert at(code["expires_at"]) == at(held["expires_at"])
        assert await wallet(platform, ALICE) == (400, 100, 0)
        assert await stock_left(platform, shop.offer.offer_id) == 9
        assert await merchant_balance(platform, shop) == 0
        balances = (await http.get("/v1/citizen/balances", headers=me)).json()
        assert (balances["available"], balances["held"]) == (400, 100)

        png = await http.get(code["qr_png"], headers=me)
        svg = await http.get(code["qr_svg"], headers=me)

        assert png.status_code == 200 and png.headers["content-type"] == "image/png"
        assert png.headers["cache-control"] == "no-store"
        assert zxingcpp.read_barcodes(Image.open(io.BytesIO(png.content)))[0].text == code["token"]
        assert svg.status_code == 200 and svg.headers["content-type"].startswith("image/svg+xml")
        assert ElementTree.fromstring(svg.content).tag.rsplit("}", 1)[-1] == "svg"

        response = await redeem(http, shop, code=code["token"])

        assert response.status_code == 200, response.text
        done = response.json()
        assert (done["reservation_id"], done["status"], done["points"]) == (rid, "redeemed", 100)
        assert done["redeemed_by"] == shop.staff_id and done["offer_id"] == shop.offer.offer_id
        assert at(done["reversible_until"]) - at(done["redeemed_at"]) == timedelta(
            seconds=platform.settings.reversal_window_s
        )
        assert await wallet(platform, ALICE) == (400, 0, 0)
        assert await merchant_balance(platform, shop) == 100
        assert await stock_left(platform, shop.offer.offer_id) == 9  # consumed: it does not come back
        assert await ledger_kinds(platform) == ["spend-reserve", "spend-post"]
        after = (await http.get(f"/v1/citizen/reservations/{rid}", headers=me)).json()
        assert after["status"] == "redeemed" and after["code"] is None
        assert (await http.get("/v1/merchant/me", headers=shop.staff)).json()["balance"] == 100
        listed = (await http.get("/v1/merchant/redemptions", headers=shop.staff)).json()
        assert [(r["reservation_id"], r["status"], r["redeemed_by"]) for r in listed] == [
            (rid, "redeemed", shop.staff_id)
        ]

    async def test_a_short_code_typed_in_lowercase_without_its_dash_redeems(
        self, http, platform, shop, alice
    ):
        await fund(platform, BOB, 100)
        first = await reserve(http, platform, ALICE, shop.offer.offer_id)
        second = await reserve(http, platform, BOB, shop.offer.offer_id)
        typed = second["code"]["short_code"].replace("-", "").lower()

        response = await redeem(http, shop, short_code=typed)

        assert response.status_code == 200, response.text
        assert response.json()["reservation_id"] == second["reservation_id"]
        assert await wallet(platform, BOB) == (0, 0, 0)
        assert await wallet(platform, ALICE) == (400, 100, 0)  # the other code is untouched
        assert await merchant_balance(platform, shop) == 100
        mine = await http.get(
            f"/v1/citizen/reservations/{first['reservation_id']}", headers=citizen_headers(platform, ALICE)
        )
        assert mine.json()["status"] == "reserved" and mine.json()["code"] is not None

    async def test_the_days_redemptions_list_newest_first(self, http, platform, alice):
        shop = await open_shop(platform, limit=3)
        for _ in range(3):
            held = await reserve(http, platform, ALICE, shop.offer.offer_id)
            assert (await redeem(http, shop, code=held["code"]["token"])).status_code == 200

        listed = (await http.get("/v1/merchant/redemptions", headers=shop.staff)).json()

        assert len(listed) == 3
        assert [r["redeemed_at"] for r in listed] == sorted((r["redeemed_at"] for r in listed), reverse=True)
        assert await merchant_balance(platform, shop) == 300
        assert await wallet(platform, ALICE) == (200, 0, 0)
        assert await stock_left(platform, shop.offer.offer_id) == 7
        yesterday = (at(listed[0]["redeemed_at"]) + timedelta(hours=8) - timedelta(days=1)).date()
        earlier = await http.get(f"/v1/merchant/redemptions?day={yesterday}", headers=shop.staff)
        assert earlier.status_code == 200 and earlier.json() == []

    async def test_the_citizen_sees_only_offers_that_may_be_reserved_now(self, http, platform, shop):
        now = datetime.now(UTC)
        await open_shop(platform, "m_later", valid_from=now + timedelta(days=1))
        await open_shop(platform, "m_empty", stock=0)
        ended = await open_shop(platform, "m_ended", valid_from=now - timedelta(days=3))
        await _patch_offer(http, platform, ended.offer.offer_id, valid_until=now - timedelta(seconds=1))

        offers = (await http.get("/v1/citizen/offers", headers=citizen_headers(platform, ALICE))).json()

        assert [o["offer_id"] for o in offers] == [shop.offer.offer_id]


class TestExpiry:
    async def test_the_sweeper_gives_back_what_expired_reservations_held(self, http, platform, shop, alice):
        await fund(platform, BOB, 100)
        ttl = timedelta(seconds=platform.settings.reservation_ttl_s)
        now = datetime.now(UTC)
        old = await reservations.reserve(platform, ALICE, shop.offer.offer_id, now - ttl)
        live = await reserve(http, platform, BOB, shop.offer.offer_id)
        assert await wallet(platform, ALICE) == (400, 100, 0)

        assert await reservations.sweep_expired(platform) == 1
        assert await reservations.sweep_expired(platform) == 0

        assert await wallet(platform, ALICE) == (500, 0, 0)
        assert await wallet(platform, BOB) == (0, 100, 0)
        assert await stock_left(platform, shop.offer.offer_id) == 9
        mine = await http.get(
            f"/v1/citizen/reservations/{old.reservation.reservation_id}",
            headers=citizen_headers(platform, ALICE),
        )
        assert mine.json()["status"] == "expired" and mine.json()["voided_at"]
        assert (await redeem(http, shop, code=live["code"]["token"])).status_code == 200


class TestIdempotency:
    async def test_a_retry_with_the_same_key_returns_the_same_reservation_and_books_once(
        self, http, platform, shop, alice
    ):
        first = await reserve(http, platform, ALICE, shop.offer.offer_id, **{"idempotency-key": "tap-1"})

        again = await http.post(
            "/v1/citizen/reservations",
            json={"offer_id": shop.offer.offer_id},
            headers={**citizen_headers(platform, ALICE), "idempotency-key": "tap-1"},
        )

        assert again.status_code == 200, again.text
        assert again.json()["reservation_id"] == first["reservation_id"]
        assert again.json()["code"]["token"] == first["code"]["token"]
        assert again.json()["code"]["short_code"] == first["code"]["short_code"]
        assert await wallet(platform, ALICE) == (400, 100, 0)
        assert await stock_left(platform, shop.offer.offer_id) == 9
        assert await ledger_kinds(platform) == ["spend-reserve"]

    async def test_the_same_key_for_another_offer_is_a_conflict_that_changes_nothing(
        self, http, platform, shop, alice
    ):
        other = await open_shop(platform, "m_bakery")
        await reserve(http, platform, ALICE, shop.offer.offer_id, **{"idempotency-key": "tap-1"})

        response = await http.post(
            "/v1/citizen/reservations",
            json={"offer_id": other.offer.offer_id},
            headers={**citizen_headers(platform, ALICE), "idempotency-key": "tap-1"},
        )

        assert_problem(response, 409, "idempotency-conflict")
        assert await wallet(platform, ALICE) == (400, 100, 0)
        assert await stock_left(platform, other.offer.offer_id) == 10

    async def test_one_key_of_two_citizens_makes_two_reservations(self, http, platform, shop, alice):
        await fund(platform, BOB, 100)
        a = await reserve(http, platform, ALICE, shop.offer.offer_id, **{"idempotency-key": "tap-1"})
        b = await reserve(http, platform, BOB, shop.offer.offer_id, **{"idempotency-key": "tap-1"})

        assert a["reservation_id"] != b["reservation_id"]
        assert await stock_left(platform, shop.offer.offer_id) == 8


class TestCancel:
    async def test_cancel_returns_the_points_and_the_unit(self, http, platform, shop, alice):
        me = citizen_headers(platform, ALICE)
        held = await reserve(http, platform, ALICE, shop.offer.offer_id)
        rid = held["reservation_id"]

        response = await http.post(f"/v1/citizen/reservations/{rid}/cancel", headers=me)

        assert response.status_code == 200, response.text
        assert response.json()["status"] == "cancelled" and response.json()["voided_at"]
        assert await wallet(platform, ALICE) == (500, 0, 0)
        assert await stock_left(platform, shop.offer.offer_id) == 10
        assert await merchant_balance(platform, shop) == 0
        assert await ledger_kinds(platform) == ["spend-reserve", "spend-void"]
        assert (await http.get(f"/v1/citizen/reservations/{rid}", headers=me)).json()["code"] is None
        assert_problem(await http.get(held["code"]["qr_png"], headers=me), 409, "code-used")
        again = await http.post(f"/v1/citizen/reservations/{rid}/cancel", headers=me)
        assert_problem(again, 409, "not-cancellable")
        assert await wallet(platform, ALICE) == (500, 0, 0)

    async def test_a_cancelled_unit_may_be_reserved_again_within_the_limit(self, http, platform, shop, alice):
        me = citizen_headers(platform, ALICE)
        held = await reserve(http, platform, ALICE, shop.offer.offer_id)
        await http.post(f"/v1/citizen/reservations/{held['reservation_id']}/cancel", headers=me)

        again = await reserve(http, platform, ALICE, shop.offer.offer_id)

        assert again["reservation_id"] != held["reservation_id"]
        listed = (await http.get("/v1/citizen/reservations", headers=me)).json()
        assert [r["status"] for r in listed] == ["reserved", "cancelled"]
        live = (await http.get("/v1/citizen/reservations?status=reserved", headers=me)).json()
        assert [r["reservation_id"] for r in live] == [again["reservation_id"]]


async def _patch_offer(http, platform, offer_id: str, **changes: datetime) -> None:
    body = {k: v.isoformat() for k, v in changes.items()}
    response = await http.patch(f"/v1/admin/offers/{offer_id}", json=body, headers=admin_headers(platform))
    assert response.status_code == 200, response.text
