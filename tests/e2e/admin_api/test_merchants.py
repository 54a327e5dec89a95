"""/v1/admin/merchants… and /v1/admin/offers…: administrators open merchants, add and disable
staff (effective at once), create and change offers (bad terms refused with a reason), and watch
stock burn down; auditors read all of it and change nothing."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select
from sqlmodel import SQLModel

from backend.merchants.directory import authenticate
from backend.redemption import redeem as redemption
from backend.redemption import reservations
from points_engine.certification import SHANGHAI
from tests.e2e.merchant_api.conftest import ALICE, BOB, redeem, reserve, snapshot
from tests.e2e.partner_api.test_signing import assert_problem, count_rows
from tests.redemption_world import Shop, admin_headers, citizen_headers, fund, open_shop

NOW = datetime.now(UTC)
OFFER = {
    "merchant_id": "m_tea",
    "title": "Dancong tea, 50 g",
    "price_points": 300,
    "stock": 20,
    "per_citizen_limit": 2,
    "valid_from": "2026-11-01T00:00:00+08:00",
    "valid_until": (NOW + timedelta(days=60)).isoformat(),
}


@pytest.fixture
def admin(platform) -> dict[str, str]:
    return admin_headers(platform)


@pytest.fixture
async def tea(http, admin) -> dict[str, Any]:
    response = await http.post(
        "/v1/admin/merchants", json={"merchant_id": "m_tea", "name": "Chaoshan Tea House"}, headers=admin
    )
    assert response.status_code == 201, response.text
    return dict(response.json())


async def audit_actions(platform) -> list[str]:
    log = SQLModel.metadata.tables["audit_log"]
    async with platform.db.read() as conn:
        return list((await conn.execute(select(log.c.action).order_by(log.c.seq))).scalars())


class TestMerchants:
    async def test_an_admin_opens_a_merchant(self, http, platform, admin, tea):
        assert {k: tea[k] for k in ("merchant_id", "name", "book", "status", "balance")} == {
            "merchant_id": "m_tea",
            "name": "Chaoshan Tea House",
            "book": "shantou",
            "status": "active",
            "balance": 0,
        }
        listed = (await http.get("/v1/admin/merchants", headers=admin)).json()
        one = (await http.get("/v1/admin/merchants/m_tea", headers=admin)).json()
        assert listed == [one] == [tea]
        assert await audit_actions(platform) == ["merchant.created"]

    async def test_a_merchant_id_is_taken_once(self, http, platform, admin, tea):
        response = await http.post(
            "/v1/admin/merchants",
            json={"merchant_id": "m_tea", "name": "Another", "book": "nanao"},
            headers=admin,
        )

        assert_problem(response, 409, "merchant-exists")
        assert (await http.get("/v1/admin/merchants/m_tea", headers=admin)).json() == tea
        assert await audit_actions(platform) == ["merchant.created"]

    @pytest.mark.parametrize(
        "body",
        [
            {"merchant_id": "M_Tea", "name": "x"},
            {"merchant_id": "m", "name": "x"},
            {"merchant_id": "m:tea", "name": "x"},
            {"merchant_id": "m_tea", "name": ""},
            {"merchant_id": "m_tea", "name": "x", "book": "guangzhou"},
            {"merchant_id": "m_tea", "name": "x", "balance": 100},
        ],
    )
    async def test_a_bad_merchant_is_refused(self, http, platform, admin, body):
        assert_problem(
            await http.post("/v1/admin/merchants", json=body, headers=admin), 422, "invalid-request"
        )
        assert await count_rows(platform, "merchants") == 0

    async def test_a_nanao_merchant_offers_in_its_book_by_default(self, http, admin):
        await http.post(
            "/v1/admin/merchants",
            json={"merchant_id": "m_island", "name": "Nan'ao", "book": "nanao"},
            headers=admin,
        )
        response = await http.post(
            "/v1/admin/offers", json={**OFFER, "merchant_id": "m_island"}, headers=admin
        )
        assert response.status_code == 201, response.text
        assert response.json()["book"] == "nanao"

    async def test_an_unknown_merchant(self, http, admin):
        assert_problem(await http.get("/v1/admin/merchants/m_nobody", headers=admin), 404, "unknown-merchant")
        patch = await http.patch("/v1/admin/merchants/m_nobody", json={"status": "suspended"}, headers=admin)
        assert_problem(patch, 404, "unknown-merchant")
        staff = await http.post("/v1/admin/merchants/m_nobody/staff", json={"name": "Chen"}, headers=admin)
        assert_problem(staff, 404, "unknown-merchant")
        assert_problem(
            await http.post("/v1/admin/offers", json={**OFFER, "merchant_id": "m_nobody"}, headers=admin),
            404,
            "unknown-merchant",
        )
        for read in ("staff", "statements/2026-11-03"):
            response = await http.get(f"/v1/admin/merchants/m_nobody/{read}", headers=admin)
            assert_problem(response, 404, "unknown-merchant")

    async def test_suspend_and_resume(self, http, platform, admin, tea):
        suspended = await http.patch("/v1/admin/merchants/m_tea", json={"status": "suspended"}, headers=admin)
        resumed = await http.patch("/v1/admin/merchants/m_tea", json={"status": "active"}, headers=admin)

        assert (suspended.json()["status"], resumed.json()["status"]) == ("suspended", "active")
        assert await audit_actions(platform) == ["merchant.created", "merchant.suspended", "merchant.active"]
        bad = await http.patch("/v1/admin/merchants/m_tea", json={"status": "closed"}, headers=admin)
        assert_problem(bad, 422, "invalid-request")


class TestStaff:
    async def test_a_staff_token_works_at_once_and_stops_at_once(self, http, platform, admin, tea):
        added = await http.post(
            "/v1/admin/merchants/m_tea/staff", json={"name": "Chen at the till"}, headers=admin
        )

        assert added.status_code == 201, added.text
        issued = added.json()
        staff_id = issued["staff"]["staff_id"]
        till = {"authorization": f"Bearer {issued['access_token']}"}
        assert (issued["token_type"], issued["staff"]["merchant_id"], issued["staff"]["disabled_at"]) == (
            "Bearer",
            "m_tea",
            None,
        )
        me = await http.get("/v1/merchant/me", headers=till)
        assert me.status_code == 200 and me.json()["merchant_id"] == "m_tea"
        listed = (await http.get("/v1/admin/merchants/m_tea/staff", headers=admin)).json()
        assert [s["staff_id"] for s in listed] == [staff_id]

        disabled = await http.delete(f"/v1/admin/merchants/m_tea/staff/{staff_id}", headers=admin)

        assert disabled.status_code == 200 and disabled.json()["disabled_at"]
        assert_problem(await http.get("/v1/merchant/me", headers=till), 403, "staff-disabled")
        again = await http.delete(f"/v1/admin/merchants/m_tea/staff/{staff_id}", headers=admin)
        assert again.json()["disabled_at"] == disabled.json()["disabled_at"]
        fresh = await http.post(f"/v1/admin/merchants/m_tea/staff/{staff_id}/tokens", headers=admin)
        assert_problem(fresh, 403, "staff-disabled")
        assert await audit_actions(platform) == [
            "merchant.created",
            "merchant.staff-added",
            "merchant.staff-disabled",
            "merchant.staff-disabled",
        ]

    async def test_a_fresh_token_for_a_new_shift(self, http, platform, admin, tea):
        staff_id = (
            await http.post("/v1/admin/merchants/m_tea/staff", json={"name": "Lin"}, headers=admin)
        ).json()["staff"]["staff_id"]

        response = await http.post(f"/v1/admin/merchants/m_tea/staff/{staff_id}/tokens", headers=admin)

        assert response.status_code == 201, response.text
        till = {"authorization": f"Bearer {response.json()['access_token']}"}
        assert (await http.get("/v1/merchant/me", headers=till)).status_code == 200

    async def test_staff_belong_to_their_merchant(self, http, platform, admin, tea):
        await http.post(
            "/v1/admin/merchants", json={"merchant_id": "m_bakery", "name": "Bakery"}, headers=admin
        )
        staff_id = (
            await http.post("/v1/admin/merchants/m_tea/staff", json={"name": "Lin"}, headers=admin)
        ).json()["staff"]["staff_id"]

        wrong = await http.delete(f"/v1/admin/merchants/m_bakery/staff/{staff_id}", headers=admin)
        token = await http.post(f"/v1/admin/merchants/m_bakery/staff/{staff_id}/tokens", headers=admin)

        assert_problem(wrong, 404, "not-found")
        assert_problem(token, 404, "not-found")
        assert (await authenticate(platform.db, staff_id)).merchant_id == "m_tea"
        assert (await http.get("/v1/admin/merchants/m_bakery/staff", headers=admin)).json() == []


BAD_TERMS = [
    ({"price_points": 0}, "price_points"),
    ({"price_points": 10_000_001}, "price_points"),
    ({"stock": -1}, "stock"),
    ({"per_citizen_limit": 0}, "per_citizen_limit"),
    ({"per_citizen_limit": 1_001}, "per_citizen_limit"),
    ({"valid_until": "2026-11-01T00:00:00+08:00"}, "valid_until must be after valid_from"),
    ({"valid_until": "2026-10-01T00:00:00Z"}, "valid_until must be after valid_from"),
    ({"valid_from": "2026-11-01T00:00:00"}, "time zone"),
]


class TestOffers:
    async def test_an_admin_creates_an_offer(self, http, platform, admin, tea):
        response = await http.post("/v1/admin/offers", json=OFFER, headers=admin)

        assert response.status_code == 201, response.text
        offer = response.json()
        assert offer["offer_id"].startswith("o_")
        assert (offer["stock_total"], offer["stock_left"], offer["status"], offer["book"]) == (
            20,
            20,
            "active",
            "shantou",
        )
        assert datetime.fromisoformat(offer["valid_from"]) == datetime(2026, 11, 1, tzinfo=SHANGHAI)
        assert datetime.fromisoformat(offer["valid_from"]).utcoffset() == timedelta(0)
        assert await audit_actions(platform) == ["merchant.created", "offer.created"]
        seen = (await http.get("/v1/citizen/offers", headers=citizen_headers(platform, ALICE))).json()
        assert [o["offer_id"] for o in seen] == [offer["offer_id"]]

    @pytest.mark.parametrize(("change", "named"), BAD_TERMS, ids=[n for _, n in BAD_TERMS])
    async def test_invalid_terms_are_refused_with_the_reason(self, http, platform, admin, tea, change, named):
        response = await http.post("/v1/admin/offers", json={**OFFER, **change}, headers=admin)

        doc = assert_problem(response, 422, "invalid-offer")
        assert named in doc["detail"]
        assert await count_rows(platform, "offers") == 0
        assert await audit_actions(platform) == ["merchant.created"]

    @pytest.mark.parametrize(
        "change",
        [
            {"price_points": "many"},
            {"book": "guangzhou"},
            {"stock_left": 5},
            {"title": ""},
            {"valid_from": "soon"},
        ],
    )
    async def test_a_malformed_offer_is_refused(self, http, platform, admin, tea, change):
        response = await http.post("/v1/admin/offers", json={**OFFER, **change}, headers=admin)
        assert_problem(response, 422, "invalid-request")
        assert await count_rows(platform, "offers") == 0

    async def test_add_stock_pause_resume_move_the_end_and_retire(self, http, platform, admin, tea):
        offer_id = (await http.post("/v1/admin/offers", json=OFFER, headers=admin)).json()["offer_id"]
        path = f"/v1/admin/offers/{offer_id}"
        await fund(platform, ALICE, 1_000)
        await reserve(http, platform, ALICE, offer_id)

        more = (await http.patch(path, json={"add_stock": 5}, headers=admin)).json()
        assert (more["stock_total"], more["stock_left"]) == (25, 24)

        paused = (await http.patch(path, json={"status": "paused"}, headers=admin)).json()
        assert paused["status"] == "paused"
        assert (await http.get("/v1/citizen/offers", headers=citizen_headers(platform, ALICE))).json() == []

        resumed = (await http.patch(path, json={"status": "active"}, headers=admin)).json()
        assert resumed["status"] == "active"

        end = (NOW + timedelta(days=7)).replace(microsecond=0)
        moved = (
            await http.patch(path, json={"valid_until": end.isoformat(), "title": "Tea, 50 g"}, headers=admin)
        ).json()
        assert datetime.fromisoformat(moved["valid_until"]) == end and moved["title"] == "Tea, 50 g"

        retired = (await http.patch(path, json={"status": "retired"}, headers=admin)).json()
        assert retired["status"] == "retired"
        assert_problem(await http.patch(path, json={"status": "active"}, headers=admin), 422, "invalid-offer")
        assert (await http.get("/v1/citizen/offers", headers=citizen_headers(platform, ALICE))).json() == []
        actions = await audit_actions(platform)
        assert actions.count("offer.updated") == 5

    @pytest.mark.parametrize(
        ("body", "code", "named"),
        [
            ({"valid_until": "2026-10-31T00:00:00Z"}, "invalid-offer", "after valid_from"),
            (
                {"valid_until": (NOW + timedelta(days=7)).replace(tzinfo=None).isoformat()},
                "invalid-offer",
                "time zone",
            ),
            ({"add_stock": 0}, "invalid-request", "add_stock"),
            ({"add_stock": 10**19}, "invalid-offer", "stock"),
            ({"price_points": 1}, "invalid-request", "price_points"),
            ({"per_citizen_limit": 5}, "invalid-request", "per_citizen_limit"),
            ({"status": "sold-out"}, "invalid-request", "status"),
        ],
    )
    async def test_a_bad_change_is_refused_and_changes_nothing(
        self, http, platform, admin, tea, body, code, named
    ):
        offer = (await http.post("/v1/admin/offers", json=OFFER, headers=admin)).json()

        response = await http.patch(f"/v1/admin/offers/{offer['offer_id']}", json=body, headers=admin)

        doc = assert_problem(response, 422, code)
        assert named in doc["detail"]
        listed = (await http.get("/v1/admin/offers", headers=admin)).json()
        assert {k: listed[0][k] for k in offer} == offer

    async def test_an_unknown_offer(self, http, admin, tea):
        response = await http.patch(
            "/v1/admin/offers/o_0000000000000000", json={"add_stock": 1}, headers=admin
        )
        assert_problem(response, 404, "unknown-offer")


async def sell(
    platform, shop: Shop, citizen_id: str, at: datetime, *, redeem_it=True, reverse_it=False
) -> None:
    """One reservation of ``shop``'s offer at ``at``, redeemed and reversed within the minute if asked."""
    staff = await authenticate(platform.db, shop.staff_id)
    await fund(platform, citizen_id, shop.offer.price_points, key=f"{shop.offer.offer_id}-{at.timestamp()}")
    made = await reservations.reserve(platform, citizen_id, shop.offer.offer_id, at)
    if redeem_it:
        await redemption.redeem(
            platform, staff.staff_id, at + timedelta(seconds=10), code=made.reservation.code.token
        )
    if reverse_it:
        await redemption.reverse(platform, staff, made.reservation.reservation_id, at + timedelta(seconds=20))


class TestBurnDown:
    async def test_held_redeemed_reversed_and_the_last_fourteen_days(self, http, platform, admin):
        now = datetime.now(UTC)
        shop = await open_shop(platform, stock=10, valid_from=now - timedelta(days=30))
        await sell(platform, shop, "c_erin", now - timedelta(days=2))
        await fund(platform, ALICE, 100)
        await fund(platform, BOB, 100)
        await sell(platform, shop, "c_carol", now, redeem_it=False)
        await sell(platform, shop, "c_dave", now, reverse_it=True)
        alice = await reserve(http, platform, ALICE, shop.offer.offer_id)
        await redeem(http, shop, code=alice["code"]["token"])
        bob = await reserve(http, platform, BOB, shop.offer.offer_id)
        await http.post(
            f"/v1/citizen/reservations/{bob['reservation_id']}/cancel", headers=citizen_headers(platform, BOB)
        )

        response = await http.get(f"/v1/admin/offers?merchant_id={shop.merchant_id}", headers=admin)

        assert response.status_code == 200, response.text
        [offer] = response.json()
        assert (offer["stock_total"], offer["stock_left"]) == (10, 7)  # one held, two redeemed
        assert (offer["held"], offer["redeemed"], offer["reversed"]) == (1, 2, 1)
        today = now.astimezone(SHANGHAI).date()
        days = {d["day"]: d for d in offer["days"]}
        assert list(days) == [(today - timedelta(days=n)).isoformat() for n in reversed(range(14))]
        assert days[today.isoformat()] == {
            "day": today.isoformat(),
            "reserved": 4,
            "redeemed": 2,
            "reversed": 1,
            "points": 100,
        }
        two_days_ago = (today - timedelta(days=2)).isoformat()
        assert days[two_days_ago] == {
            "day": two_days_ago,
            "reserved": 1,
            "redeemed": 1,
            "reversed": 0,
            "points": 100,
        }
        assert sum(d["reserved"] for d in offer["days"]) == 5
        assert offer["days_of_stock"] == 24.5  # 7 left at (2 - 1 + 1) / 7 a day
        assert offer["low_stock"] is False
        staff_view = (await http.get("/v1/merchant/offers", headers=shop.staff)).json()
        assert staff_view == [offer]

    async def test_low_stock_by_share_left_and_by_days_left(self, http, platform, admin):
        now = datetime.now(UTC)
        since = now - timedelta(days=30)
        sold_out = await open_shop(platform, "m_a", price=10, stock=3, valid_from=since)
        fast = await open_shop(platform, "m_b", price=10, stock=10, valid_from=since)
        slow = await open_shop(platform, "m_c", price=10, stock=10, valid_from=since)
        for n in range(3):
            await sell(platform, sold_out, f"c_a{n}", now - timedelta(days=n))
        for n in range(8):
            await sell(platform, fast, f"c_b{n}", now - timedelta(days=n % 6))
        await sell(platform, slow, "c_c0", now - timedelta(days=10))  # outside the 7 days of the rate

        offers = {o["merchant_id"]: o for o in (await http.get("/v1/admin/offers", headers=admin)).json()}

        assert (offers["m_a"]["stock_left"], offers["m_a"]["days_of_stock"], offers["m_a"]["low_stock"]) == (
            0,
            0.0,
            True,
        )
        assert (offers["m_b"]["stock_left"], offers["m_b"]["days_of_stock"], offers["m_b"]["low_stock"]) == (
            2,
            1.8,
            True,
        )
        assert (offers["m_c"]["stock_left"], offers["m_c"]["days_of_stock"], offers["m_c"]["low_stock"]) == (
            9,
            None,
            False,
        )
        paused = await http.patch(
            f"/v1/admin/offers/{fast.offer.offer_id}", json={"status": "paused"}, headers=admin
        )
        assert paused.status_code == 200
        offers = {o["merchant_id"]: o for o in (await http.get("/v1/admin/offers", headers=admin)).json()}
        assert offers["m_b"]["low_stock"] is False  # nobody can take a paused offer's last units


class TestAuditors:
    async def test_an_auditor_reads_everything(self, http, platform, admin):
        shop = await open_shop(platform)
        auditor = admin_headers(platform, "auditor")
        paths = [
            "/v1/admin/merchants",
            f"/v1/admin/merchants/{shop.merchant_id}",
            f"/v1/admin/merchants/{shop.merchant_id}/staff",
            "/v1/admin/offers",
            f"/v1/admin/merchants/{shop.merchant_id}/statements/2026-11-03",
        ]
        for path in paths:
            response = await http.get(path, headers=auditor)
            assert response.status_code == 200, (path, response.text)
            assert response.json() == (await http.get(path, headers=admin)).json()

    async def test_an_auditor_changes_nothing(self, http, platform):
        shop = await open_shop(platform)
        auditor = admin_headers(platform, "auditor")
        m, s, o = shop.merchant_id, shop.staff_id, shop.offer.offer_id
        before = await snapshot(platform, [], [shop])
        log = await audit_actions(platform)
        writes = [
            ("POST", "/v1/admin/merchants", {"merchant_id": "m_new", "name": "New"}),
            ("PATCH", f"/v1/admin/merchants/{m}", {"status": "suspended"}),
            ("POST", f"/v1/admin/merchants/{m}/staff", {"name": "Me"}),
            ("POST", f"/v1/admin/merchants/{m}/staff/{s}/tokens", None),
            ("DELETE", f"/v1/admin/merchants/{m}/staff/{s}", None),
            ("POST", "/v1/admin/offers", OFFER),
            ("PATCH", f"/v1/admin/offers/{o}", {"add_stock": 100}),
        ]
        for method, path, body in writes:
            response = await http.request(method, path, json=body, headers=auditor)
            assert_problem(response, 403, "forbidden")

        assert await snapshot(platform, [], [shop]) == before
        assert await audit_actions(platform) == log
        assert (await http.get("/v1/merchant/me", headers=shop.staff)).status_code == 200
