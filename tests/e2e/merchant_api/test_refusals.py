"""Every way a redemption or a reservation is refused: a clear problem+json, and nothing changed —
balances, stock, reservation statuses and rows are compared before and after each refusal. The one
documented exception: a code found expired at the till has its hold voided on the spot (what the
sweeper would do anyway), so its points and unit come back and nothing reaches the merchant."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

import pytest

from backend.redemption import redeem as redemption
from backend.redemption import reservations
from points_engine.redemption import CodeExpired, OfferOutOfWindow, sign
from tests.e2e.merchant_api.conftest import (
    ALICE,
    BOB,
    merchant_balance,
    redeem,
    reserve,
    snapshot,
    staff_of,
    wallet,
)
from tests.e2e.partner_api.test_signing import assert_problem
from tests.redemption_world import admin_headers, citizen_headers, fund, open_shop, pending, stock_left

NOT_A_RESERVATION = "r_" + "0" * 24


def tampered(token: str, at: int) -> str:
    """``token`` with the character at ``at`` replaced by another one the token's grammar allows."""
    old = token[at]
    new = {"0": "1", "9": "8"}.get(old) or ("A" if old != "A" else "B")
    return token[:at] + new + token[at + 1 :]


class TestCodesThatDoNotRedeem:
    async def test_an_expired_code_is_refused_its_hold_voided_and_nothing_paid(
        self, http, platform, shop, alice
    ):
        ttl = timedelta(seconds=platform.settings.reservation_ttl_s)
        made = await reservations.reserve(
            platform, ALICE, shop.offer.offer_id, datetime.now(UTC) - ttl - timedelta(minutes=1)
        )
        token = made.reservation.code.token
        assert await wallet(platform, ALICE) == (400, 100, 0)

        response = await redeem(http, shop, code=token)

        assert_problem(response, 410, "code-expired")
        assert await merchant_balance(platform, shop) == 0
        assert await wallet(platform, ALICE) == (500, 0, 0)
        assert await stock_left(platform, shop.offer.offer_id) == 10
        rid = made.reservation.reservation_id
        mine = await http.get(f"/v1/citizen/reservations/{rid}", headers=citizen_headers(platform, ALICE))
        assert mine.json()["status"] == "expired" and mine.json()["code"] is None
        before = await snapshot(platform, [ALICE], [shop])
        assert_problem(await redeem(http, shop, code=token), 409, "code-used")
        assert await snapshot(platform, [ALICE], [shop]) == before

    async def test_a_code_is_good_until_the_instant_it_expires(self, platform, shop, alice):
        staff = await staff_of(platform, shop)
        await fund(platform, BOB, 100)
        now = datetime.now(UTC)
        ttl = timedelta(seconds=platform.settings.reservation_ttl_s)
        early = await reservations.reserve(platform, ALICE, shop.offer.offer_id, now)
        late = await reservations.reserve(platform, BOB, shop.offer.offer_id, now)

        done = await redemption.redeem(
            platform, staff.staff_id, now + ttl - timedelta(microseconds=1), code=early.reservation.code.token
        )
        with pytest.raises(CodeExpired):
            await redemption.redeem(
                platform, staff.staff_id, now + ttl, short=late.reservation.code.short_code
            )

        assert done.status == "redeemed"
        assert await merchant_balance(platform, shop) == 100
        assert await wallet(platform, BOB) == (100, 0, 0)
        assert await stock_left(platform, shop.offer.offer_id) == 9

    async def test_the_qr_of_an_expired_code_is_gone(self, http, platform, shop, alice):
        ttl = timedelta(seconds=platform.settings.reservation_ttl_s)
        made = await reservations.reserve(
            platform, ALICE, shop.offer.offer_id, datetime.now(UTC) - ttl - timedelta(seconds=1)
        )
        path = made.reservation.code.qr_png
        before = await snapshot(platform, [ALICE], [shop])

        response = await http.get(path, headers=citizen_headers(platform, ALICE))

        assert_problem(response, 410, "code-expired")
        assert await snapshot(platform, [ALICE], [shop]) == before

    async def test_a_used_code_is_refused_by_scan_and_by_typing(self, http, platform, shop, alice):
        held = await reserve(http, platform, ALICE, shop.offer.offer_id)
        assert (await redeem(http, shop, code=held["code"]["token"])).status_code == 200
        before = await snapshot(platform, [ALICE], [shop])

        scanned = await redeem(http, shop, code=held["code"]["token"])
        typed = await redeem(http, shop, short_code=held["code"]["short_code"])

        assert_problem(scanned, 409, "code-used")
        assert_problem(typed, 409, "code-used")
        assert await snapshot(platform, [ALICE], [shop]) == before
        assert await merchant_balance(platform, shop) == 100

    async def test_a_cancelled_code_is_refused(self, http, platform, shop, alice):
        held = await reserve(http, platform, ALICE, shop.offer.offer_id)
        rid = held["reservation_id"]
        await http.post(f"/v1/citizen/reservations/{rid}/cancel", headers=citizen_headers(platform, ALICE))
        before = await snapshot(platform, [ALICE], [shop])

        response = await redeem(http, shop, code=held["code"]["token"])

        assert_problem(response, 409, "code-used")
        assert await snapshot(platform, [ALICE], [shop]) == before
        assert before.statuses[rid] == "cancelled" and await wallet(platform, ALICE) == (500, 0, 0)

    @pytest.mark.parametrize("where", ["reservation id", "expiry", "mac", "prefix"])
    async def test_a_tampered_token_is_refused_and_the_real_one_still_works(
        self, http, platform, shop, alice, where
    ):
        held = await reserve(http, platform, ALICE, shop.offer.offer_id)
        token = held["code"]["token"]
        at = {"prefix": 2, "reservation id": 10, "expiry": token.index(".", 8) + 3, "mac": len(token) - 5}[
            where
        ]
        before = await snapshot(platform, [ALICE], [shop])

        response = await redeem(http, shop, code=tampered(token, at))

        assert_problem(response, 422, "invalid-code")
        assert await snapshot(platform, [ALICE], [shop]) == before
        assert (await redeem(http, shop, code=token)).status_code == 200

    async def test_a_token_signed_with_another_key_is_refused(self, http, platform, shop, alice):
        held = await reserve(http, platform, ALICE, shop.offer.offer_id)
        forged = sign(b"k" * 32, held["reservation_id"], int(time.time()) + 600)
        before = await snapshot(platform, [ALICE], [shop])

        response = await redeem(http, shop, code=forged)

        assert_problem(response, 422, "invalid-code")
        assert await snapshot(platform, [ALICE], [shop]) == before

    async def test_a_signed_token_naming_no_reservation_is_unknown(self, http, platform, shop, alice):
        token = sign(platform.redemption_key, NOT_A_RESERVATION, int(time.time()) + 600)
        before = await snapshot(platform, [ALICE], [shop])

        response = await redeem(http, shop, code=token)

        assert_problem(response, 404, "unknown-code")
        assert await snapshot(platform, [ALICE], [shop]) == before

    @pytest.mark.parametrize(
        ("body", "status", "code"),
        [
            ({"code": "https://example.com/not-a-code"}, 422, "invalid-code"),
            ({"short_code": "ZZZZZ-ZZZZZ"}, 404, "unknown-code"),  # well formed, nobody's
            ({"short_code": "12345"}, 422, "invalid-code"),
            ({"short_code": "ABCDE-FGHJU"}, 422, "invalid-code"),
            ({}, 422, "invalid-request"),
            ({"code": "x", "short_code": "y"}, 422, "invalid-request"),
            ({"code": "THR1." + "A" * 200}, 422, "invalid-request"),
        ],
    )
    async def test_what_is_no_live_code_is_refused(self, http, platform, shop, alice, body, status, code):
        await reserve(http, platform, ALICE, shop.offer.offer_id)
        before = await snapshot(platform, [ALICE], [shop])

        response = await http.post("/v1/merchant/redemptions", json=body, headers=shop.staff)

        assert_problem(response, status, code)
        assert await snapshot(platform, [ALICE], [shop]) == before

    async def test_a_malformed_body_is_refused(self, http, platform, shop):
        headers = {**shop.staff, "content-type": "application/json"}
        response = await http.post("/v1/merchant/redemptions", content=b'{"code": ', headers=headers)
        assert_problem(response, 400, "malformed-json")

    async def test_another_merchants_staff_cannot_redeem_the_code(self, http, platform, shop, alice):
        bakery = await open_shop(platform, "m_bakery")
        held = await reserve(http, platform, ALICE, shop.offer.offer_id)
        before = await snapshot(platform, [ALICE], [shop, bakery])

        scanned = await redeem(http, bakery, code=held["code"]["token"])
        typed = await redeem(http, bakery, short_code=held["code"]["short_code"])

        assert_problem(scanned, 403, "foreign-code")
        assert_problem(typed, 403, "foreign-code")
        assert await snapshot(platform, [ALICE], [shop, bakery]) == before
        assert (await redeem(http, shop, code=held["code"]["token"])).status_code == 200
        assert await merchant_balance(platform, bakery) == 0

    async def test_another_merchants_scan_of_an_expired_code_voids_nothing(self, http, platform, shop, alice):
        bakery = await open_shop(platform, "m_bakery")
        ttl = timedelta(seconds=platform.settings.reservation_ttl_s)
        made = await reservations.reserve(platform, ALICE, shop.offer.offer_id, datetime.now(UTC) - ttl)
        before = await snapshot(platform, [ALICE], [shop, bakery])

        response = await redeem(http, bakery, code=made.reservation.code.token)

        assert_problem(response, 403, "foreign-code")
        assert await snapshot(platform, [ALICE], [shop, bakery]) == before


class TestReservationsRefused:
    async def _refused(self, http, platform, shops, offer_id, status, code, citizen=ALICE):
        before = await snapshot(platform, [ALICE, BOB], shops)
        response = await http.post(
            "/v1/citizen/reservations",
            json={"offer_id": offer_id},
            headers=citizen_headers(platform, citizen),
        )
        doc = assert_problem(response, status, code)
        assert await snapshot(platform, [ALICE, BOB], shops) == before
        return doc

    async def test_out_of_stock(self, http, platform, alice):
        shop = await open_shop(platform, stock=1)
        await fund(platform, BOB, 100)
        await reserve(http, platform, ALICE, shop.offer.offer_id)

        await self._refused(http, platform, [shop], shop.offer.offer_id, 409, "out-of-stock", citizen=BOB)

    async def test_an_offer_with_no_stock_at_all(self, http, platform, alice):
        shop = await open_shop(platform, stock=0)
        await self._refused(http, platform, [shop], shop.offer.offer_id, 409, "out-of-stock")

    async def test_before_the_window_opens(self, http, platform, alice):
        shop = await open_shop(platform, valid_from=datetime.now(UTC) + timedelta(days=1))
        doc = await self._refused(http, platform, [shop], shop.offer.offer_id, 409, "offer-out-of-window")
        assert shop.offer.valid_from.isoformat() in doc["detail"]

    async def test_after_the_window_closed(self, http, platform, alice):
        now = datetime.now(UTC)
        shop = await open_shop(
            platform, valid_from=now - timedelta(days=3), valid_until=now - timedelta(seconds=1)
        )
        await self._refused(http, platform, [shop], shop.offer.offer_id, 409, "offer-out-of-window")

    async def test_the_window_ends_at_valid_until(self, platform, shop, alice):
        before = await snapshot(platform, [ALICE], [shop])
        with pytest.raises(OfferOutOfWindow):
            await reservations.reserve(platform, ALICE, shop.offer.offer_id, shop.offer.valid_until)
        with pytest.raises(OfferOutOfWindow):
            await reservations.reserve(
                platform, ALICE, shop.offer.offer_id, shop.offer.valid_from - timedelta(microseconds=1)
            )
        assert await snapshot(platform, [ALICE], [shop]) == before
        last = await reservations.reserve(
            platform, ALICE, shop.offer.offer_id, shop.offer.valid_until - timedelta(microseconds=1)
        )
        assert last.reservation.status == "reserved"

    async def test_over_the_per_citizen_limit_counting_held_and_redeemed(self, http, platform, alice):
        shop = await open_shop(platform, limit=2)
        first = await reserve(http, platform, ALICE, shop.offer.offer_id)
        assert (await redeem(http, shop, code=first["code"]["token"])).status_code == 200
        await reserve(http, platform, ALICE, shop.offer.offer_id)

        doc = await self._refused(http, platform, [shop], shop.offer.offer_id, 409, "per-citizen-limit")

        assert "at most 2 per citizen" in doc["detail"]
        assert await wallet(platform, ALICE) == (300, 100, 0)

    async def test_a_citizen_without_points(self, http, platform, shop):
        doc = await self._refused(http, platform, [shop], shop.offer.offer_id, 409, "insufficient-points")
        assert "0 are available" in doc["detail"]

    async def test_pending_points_cannot_be_spent(self, http, platform, shop):
        await fund(platform, ALICE, 50)
        await pending(platform, ALICE, 1_000)

        doc = await self._refused(http, platform, [shop], shop.offer.offer_id, 409, "insufficient-points")

        assert "50 are available" in doc["detail"]
        assert await wallet(platform, ALICE) == (50, 0, 1_000)

    async def test_held_points_cannot_be_spent_twice(self, http, platform):
        tea = await open_shop(platform, "m_tea")
        bakery = await open_shop(platform, "m_bakery")
        await fund(platform, ALICE, 150)
        await reserve(http, platform, ALICE, tea.offer.offer_id)

        await self._refused(http, platform, [tea, bakery], bakery.offer.offer_id, 409, "insufficient-points")

        assert await wallet(platform, ALICE) == (50, 100, 0)

    @pytest.mark.parametrize("status", ["paused", "retired"])
    async def test_a_paused_or_retired_offer(self, http, platform, shop, alice, status):
        changed = await http.patch(
            f"/v1/admin/offers/{shop.offer.offer_id}",
            json={"status": status},
            headers=admin_headers(platform),
        )
        assert changed.status_code == 200, changed.text

        doc = await self._refused(http, platform, [shop], shop.offer.offer_id, 409, "offer-unavailable")

        assert status in doc["detail"]

    async def test_an_unknown_offer(self, http, platform, shop, alice):
        await self._refused(http, platform, [shop], "o_0000000000000000", 404, "unknown-offer")

    async def test_a_suspended_merchant_takes_no_reservations_and_redeems_nothing(
        self, http, platform, shop, alice
    ):
        admin = admin_headers(platform)
        held = await reserve(http, platform, ALICE, shop.offer.offer_id)
        suspended = await http.patch(
            f"/v1/admin/merchants/{shop.merchant_id}", json={"status": "suspended"}, headers=admin
        )
        assert suspended.json()["status"] == "suspended"

        await self._refused(http, platform, [shop], shop.offer.offer_id, 409, "offer-unavailable")
        before = await snapshot(platform, [ALICE], [shop])
        assert_problem(await redeem(http, shop, code=held["code"]["token"]), 403, "staff-disabled")
        assert await snapshot(platform, [ALICE], [shop]) == before
        offers = await http.get("/v1/citizen/offers", headers=citizen_headers(platform, ALICE))
        assert offers.json() == []

        await http.patch(f"/v1/admin/merchants/{shop.merchant_id}", json={"status": "active"}, headers=admin)
        assert (await redeem(http, shop, code=held["code"]["token"])).status_code == 200

    @pytest.mark.parametrize(
        ("content", "status", "code"),
        [
            (b"{}", 422, "invalid-request"),
            (b'{"offer_id": 1', 400, "malformed-json"),
            (b"[]", 422, "invalid-request"),
        ],
    )
    async def test_a_bad_body(self, http, platform, shop, alice, content, status, code):
        before = await snapshot(platform, [ALICE], [shop])
        headers = {**citizen_headers(platform, ALICE), "content-type": "application/json"}
        response = await http.post("/v1/citizen/reservations", content=content, headers=headers)
        assert_problem(response, status, code)
        assert await snapshot(platform, [ALICE], [shop]) == before


MERCHANT_ROUTES = [
    ("GET", "/v1/merchant/me"),
    ("GET", "/v1/merchant/offers"),
    ("GET", "/v1/merchant/redemptions"),
    ("POST", "/v1/merchant/redemptions"),
    ("POST", f"/v1/merchant/redemptions/{NOT_A_RESERVATION}/reverse"),
    ("GET", "/v1/merchant/statements"),
    ("GET", "/v1/merchant/statements/2026-11-03"),
    ("GET", "/v1/merchant/statements/2026-11-03.csv"),
]


class TestWhoMayDoWhat:
    async def test_a_disabled_staff_token_stops_at_once(self, http, platform, shop, alice):
        held = await reserve(http, platform, ALICE, shop.offer.offer_id)
        gone = await http.delete(
            f"/v1/admin/merchants/{shop.merchant_id}/staff/{shop.staff_id}", headers=admin_headers(platform)
        )
        assert gone.status_code == 200 and gone.json()["disabled_at"]
        before = await snapshot(platform, [ALICE], [shop])

        assert_problem(await redeem(http, shop, code=held["code"]["token"]), 403, "staff-disabled")
        assert_problem(await http.get("/v1/merchant/me", headers=shop.staff), 403, "staff-disabled")

        assert await snapshot(platform, [ALICE], [shop]) == before

    async def test_a_merchant_token_of_no_staff_member_is_refused(self, http, platform, shop):
        token = platform.tokens.mint("s_0000000000000000", "merchant", 600, int(time.time()))
        response = await http.get("/v1/merchant/me", headers={"authorization": f"Bearer {token}"})
        assert_problem(response, 403, "staff-disabled")

    @pytest.mark.parametrize(("method", "path"), MERCHANT_ROUTES)
    async def test_a_citizen_token_does_not_open_the_merchant_api(
        self, http, platform, shop, alice, method, path
    ):
        held = await reserve(http, platform, ALICE, shop.offer.offer_id)
        before = await snapshot(platform, [ALICE], [shop])
        body = {"code": held["code"]["token"]} if method == "POST" else None

        response = await http.request(method, path, json=body, headers=citizen_headers(platform, ALICE))

        assert_problem(response, 401, "invalid-token")
        assert await snapshot(platform, [ALICE], [shop]) == before

    @pytest.mark.parametrize(
        ("method", "path", "status", "code"),
        [
            ("GET", "/v1/citizen/offers", 401, "invalid-token"),
            ("GET", "/v1/citizen/reservations", 401, "invalid-token"),
            ("POST", "/v1/citizen/reservations", 401, "invalid-token"),
            ("GET", "/v1/citizen/balances", 401, "invalid-token"),
            ("GET", "/v1/admin/merchants", 403, "forbidden"),
            ("POST", "/v1/admin/merchants", 403, "forbidden"),
            ("GET", "/v1/admin/offers", 403, "forbidden"),
            ("PATCH", "/v1/admin/offers/{offer_id}", 403, "forbidden"),
            ("POST", "/v1/admin/merchants/{merchant_id}/staff", 403, "forbidden"),
            ("GET", "/v1/admin/merchants/{merchant_id}/statements/2026-11-03", 403, "forbidden"),
        ],
    )
    async def test_a_merchant_token_opens_neither_the_citizen_nor_the_admin_api(
        self, http, platform, shop, method, path, status, code
    ):
        before = await snapshot(platform, [ALICE], [shop])
        url = path.format(offer_id=shop.offer.offer_id, merchant_id=shop.merchant_id)
        bodies = {
            "/v1/citizen/reservations": {"offer_id": shop.offer.offer_id},
            "/v1/admin/merchants": {"merchant_id": "m_mine", "name": "Mine"},
            f"/v1/admin/offers/{shop.offer.offer_id}": {"add_stock": 100},
            f"/v1/admin/merchants/{shop.merchant_id}/staff": {"name": "Me again"},
        }

        response = await http.request(method, url, json=bodies.get(url), headers=shop.staff)

        assert_problem(response, status, code)
        assert await snapshot(platform, [ALICE], [shop]) == before

    async def test_a_citizen_cannot_see_or_cancel_another_citizens_reservation(
        self, http, platform, shop, alice
    ):
        held = await reserve(http, platform, ALICE, shop.offer.offer_id)
        rid = held["reservation_id"]
        bob = citizen_headers(platform, BOB)
        before = await snapshot(platform, [ALICE, BOB], [shop])

        seen = await http.get(f"/v1/citizen/reservations/{rid}", headers=bob)
        cancelled = await http.post(f"/v1/citizen/reservations/{rid}/cancel", headers=bob)
        image = await http.get(f"/v1/citizen/reservations/{rid}/qr.png", headers=bob)
        listed = await http.get("/v1/citizen/reservations", headers=bob)

        for response in (seen, cancelled, image):
            assert_problem(response, 404, "unknown-reservation")
            assert held["code"]["token"] not in response.text
        assert listed.status_code == 200 and listed.json() == []
        assert await snapshot(platform, [ALICE, BOB], [shop]) == before

    @pytest.mark.parametrize(
        "path", ["/v1/citizen/reservations/r_123", "/v1/citizen/reservations/{rid}/qr.gif"]
    )
    async def test_a_malformed_reservation_path_is_refused(self, http, platform, shop, alice, path):
        held = await reserve(http, platform, ALICE, shop.offer.offer_id)
        response = await http.get(
            path.format(rid=held["reservation_id"]), headers=citizen_headers(platform, ALICE)
        )
        assert_problem(response, 422, "invalid-request")
