"""Reversals inside (and outside) the window, and merchants' daily statements over several
Asia/Shanghai days: each day reconciles with the ledger to the point, opens where the day before
closed, says the same in JSON and CSV, and a reservation row altered behind the ledger's back shows."""

from __future__ import annotations

import csv
import io
from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import update

from backend.merchants.offers import RESERVATIONS
from backend.redemption import redeem as redemption
from backend.redemption import reservations
from points_engine.ledger import reverse_tx, spend_post_tx, spend_reserve_tx
from points_engine.redemption import ReversalWindowClosed
from tests.e2e.merchant_api.conftest import (
    ALICE,
    BOB,
    ledger_kinds,
    merchant_balance,
    redeem,
    reserve,
    snapshot,
    staff_of,
    wallet,
)
from tests.e2e.partner_api.test_signing import assert_problem
from tests.redemption_world import Shop, admin_headers, citizen_headers, fund, open_shop, stock_left


async def reverse(http, shop: Shop, reservation_id: str):
    return await http.post(f"/v1/merchant/redemptions/{reservation_id}/reverse", headers=shop.staff)


async def redeemed(http, platform, shop: Shop, citizen_id: str) -> str:
    held = await reserve(http, platform, citizen_id, shop.offer.offer_id)
    assert (await redeem(http, shop, code=held["code"]["token"])).status_code == 200
    return str(held["reservation_id"])


class TestReversal:
    async def test_a_reversal_within_the_window_returns_points_and_stock(self, http, platform, shop, alice):
        rid = await redeemed(http, platform, shop, ALICE)
        assert (await wallet(platform, ALICE), await merchant_balance(platform, shop)) == ((400, 0, 0), 100)

        response = await reverse(http, shop, rid)

        assert response.status_code == 200, response.text
        body = response.json()
        assert (body["status"], body["reversed_by"], body["reversible_until"]) == (
            "reversed",
            shop.staff_id,
            None,
        )
        assert await wallet(platform, ALICE) == (500, 0, 0)
        assert await merchant_balance(platform, shop) == 0
        assert await stock_left(platform, shop.offer.offer_id) == 10
        assert await ledger_kinds(platform) == ["spend-reserve", "spend-post", "reverse"]
        mine = await http.get(f"/v1/citizen/reservations/{rid}", headers=citizen_headers(platform, ALICE))
        assert mine.json()["status"] == "reversed" and mine.json()["reversed_at"]

        before = await snapshot(platform, [ALICE], [shop])
        assert_problem(await reverse(http, shop, rid), 409, "not-reversible")
        assert await snapshot(platform, [ALICE], [shop]) == before

    async def test_a_reversed_unit_no_longer_counts_against_the_limit(self, http, platform, shop, alice):
        rid = await redeemed(http, platform, shop, ALICE)
        await reverse(http, shop, rid)

        again = await reserve(http, platform, ALICE, shop.offer.offer_id)

        assert again["status"] == "reserved"
        assert await wallet(platform, ALICE) == (400, 100, 0)

    async def test_only_a_redemption_can_be_reversed(self, http, platform, shop, alice):
        held = await reserve(http, platform, ALICE, shop.offer.offer_id)
        before = await snapshot(platform, [ALICE], [shop])

        assert_problem(await reverse(http, shop, held["reservation_id"]), 409, "not-reversible")

        assert await snapshot(platform, [ALICE], [shop]) == before
        await http.post(
            f"/v1/citizen/reservations/{held['reservation_id']}/cancel",
            headers=citizen_headers(platform, ALICE),
        )
        before = await snapshot(platform, [ALICE], [shop])
        assert_problem(await reverse(http, shop, held["reservation_id"]), 409, "not-reversible")
        assert await snapshot(platform, [ALICE], [shop]) == before

    async def test_another_merchant_cannot_reverse_it(self, http, platform, shop, alice):
        bakery = await open_shop(platform, "m_bakery")
        rid = await redeemed(http, platform, shop, ALICE)
        before = await snapshot(platform, [ALICE], [shop, bakery])

        assert_problem(await reverse(http, bakery, rid), 404, "unknown-reservation")
        assert_problem(await reverse(http, shop, "r_" + "0" * 24), 404, "unknown-reservation")
        assert_problem(await reverse(http, shop, "r_42"), 422, "invalid-request")

        assert await snapshot(platform, [ALICE], [shop, bakery]) == before

    async def test_the_window_closes_after_reversal_window_s(self, http, platform, shop, alice):
        await fund(platform, BOB, 100)
        staff = await staff_of(platform, shop)
        window = timedelta(seconds=platform.settings.reversal_window_s)
        last_chance = await redeemed(http, platform, shop, ALICE)
        too_late = await redeemed(http, platform, shop, BOB)
        at = {r.reservation_id: r.redeemed_at for r in await _redemptions(platform, shop)}
        before = await snapshot(platform, [ALICE, BOB], [shop])

        with pytest.raises(ReversalWindowClosed):
            await redemption.reverse(platform, staff, too_late, at[too_late] + window)

        assert await snapshot(platform, [ALICE, BOB], [shop]) == before
        done = await redemption.reverse(
            platform, staff, last_chance, at[last_chance] + window - timedelta(seconds=1)
        )
        assert done.status == "reversed"
        assert await wallet(platform, ALICE) == (500, 0, 0)

    async def test_over_http_a_redemption_older_than_the_window_is_refused(self, http, platform, alice):
        now = datetime.now(UTC)
        shop = await open_shop(platform, valid_from=now - timedelta(days=3))
        staff = await staff_of(platform, shop)
        then = now - timedelta(seconds=platform.settings.reversal_window_s) - timedelta(minutes=1)
        made = await reservations.reserve(platform, ALICE, shop.offer.offer_id, then)
        await redemption.redeem(
            platform, staff.staff_id, then + timedelta(seconds=30), code=made.reservation.code.token
        )
        before = await snapshot(platform, [ALICE], [shop])

        response = await reverse(http, shop, made.reservation.reservation_id)

        doc = assert_problem(response, 409, "reversal-window-closed")
        assert f"(a {timedelta(seconds=platform.settings.reversal_window_s)} window)" in doc["detail"]
        assert await snapshot(platform, [ALICE], [shop]) == before


async def _redemptions(platform, shop: Shop):
    far = timedelta(days=1)
    now = datetime.now(UTC)
    return await redemption.merchant_redemptions(platform, shop.merchant_id, now - far, now + far)


# Statements over several Shanghai days ---------------------------------------------------------

# 15:59:59 UTC is 23:59:59 in Shanghai; 16:00 UTC is already the next day there.
LAST_SECOND_OF_NOV_2 = datetime(2026, 11, 2, 15, 59, 59, tzinfo=UTC)
FIRST_SECOND_OF_NOV_3 = datetime(2026, 11, 2, 16, 0, tzinfo=UTC)
DAYS = [date(2026, 11, d) for d in range(1, 7)]
# day → (opening, [(kind, who, points)], closing), who naming the reservation below
EXPECTED = {
    date(2026, 11, 1): (0, [], 0),
    date(2026, 11, 2): (0, [("redemption", "r1", 100)], 100),
    date(2026, 11, 3): (100, [("redemption", "r2", 70), ("reversal", "r1", -100)], 70),
    date(2026, 11, 4): (70, [("redemption", "r4", 100)], 170),
    date(2026, 11, 5): (170, [("reversal", "r4", -100), ("redemption", "r5", 100)], 170),
    date(2026, 11, 6): (170, [], 170),
}


class Week:
    """A merchant's week in November 2026, driven through the use cases with explicit times."""

    def __init__(self, tea: Shop, jasmine: Shop) -> None:
        self.tea, self.jasmine = tea, jasmine
        self.ids: dict[str, str] = {}
        self.staff: dict[str, str] = {}

    async def play(self, platform) -> None:
        tea = await staff_of(platform, self.tea)
        jasmine = await staff_of(platform, self.jasmine)

        async def sold(name, citizen, shop, staff, reserved_at, redeemed_at):
            made = await reservations.reserve(platform, citizen, shop.offer.offer_id, reserved_at)
            self.ids[name] = made.reservation.reservation_id
            self.staff[name] = staff.staff_id
            await redemption.redeem(
                platform, staff.staff_id, redeemed_at, short=made.reservation.code.short_code
            )

        # the last second of 2 November in Shanghai
        await sold(
            "r1", ALICE, self.tea, tea, LAST_SECOND_OF_NOV_2 - timedelta(minutes=5), LAST_SECOND_OF_NOV_2
        )
        # reserved on 2 November (Shanghai), redeemed in the first second of the 3rd: a line of the 3rd
        await sold(
            "r2",
            BOB,
            self.jasmine,
            jasmine,
            FIRST_SECOND_OF_NOV_3 - timedelta(minutes=1),
            FIRST_SECOND_OF_NOV_3,
        )
        await redemption.reverse(platform, tea, self.ids["r1"], FIRST_SECOND_OF_NOV_3 + timedelta(hours=1))
        # held and given up, held and left to expire: no line
        nov_4 = datetime(2026, 11, 4, 1, 0, tzinfo=UTC)
        given_up = await reservations.reserve(platform, ALICE, self.jasmine.offer.offer_id, nov_4)
        await reservations.cancel(
            platform, ALICE, given_up.reservation.reservation_id, nov_4 + timedelta(minutes=1)
        )
        await reservations.reserve(platform, ALICE, self.tea.offer.offer_id, nov_4 + timedelta(minutes=2))
        await sold(
            "r4",
            BOB,
            self.tea,
            tea,
            datetime(2026, 11, 4, 2, 0, tzinfo=UTC),
            datetime(2026, 11, 4, 2, 5, tzinfo=UTC),
        )
        # 20:00 UTC on the 4th is 04:00 on the 5th in Shanghai
        await redemption.reverse(platform, tea, self.ids["r4"], datetime(2026, 11, 4, 20, 0, tzinfo=UTC))
        await sold(
            "r5",
            ALICE,
            self.tea,
            tea,
            datetime(2026, 11, 5, 2, 55, tzinfo=UTC),
            datetime(2026, 11, 5, 3, 0, tzinfo=UTC),
        )

    def lines(self, day: date) -> list[tuple[str, str, int, str]]:
        return [(kind, self.ids[who], points, self.staff[who]) for kind, who, points in EXPECTED[day][1]]


@pytest.fixture
async def week(platform) -> Week:
    since = datetime(2026, 10, 1, tzinfo=UTC)
    tea = await open_shop(platform, "m_tea", price=100, limit=5, valid_from=since)
    jasmine = await open_shop(platform, "m_tea", price=70, limit=5, valid_from=since)
    await fund(platform, ALICE, 1_000)
    await fund(platform, BOB, 1_000)
    w = Week(tea, jasmine)
    await w.play(platform)
    return w


class TestStatements:
    async def test_each_day_reconciles_and_opens_where_the_day_before_closed(self, http, platform, week):
        closing = 0
        for day in DAYS:
            response = await http.get(f"/v1/merchant/statements/{day}", headers=week.tea.staff)

            assert response.status_code == 200, response.text
            s = response.json()
            opening, _, expected_closing = EXPECTED[day]
            assert (s["day"], s["opening"], s["closing"]) == (day.isoformat(), opening, expected_closing)
            assert s["opening"] == closing
            assert s["reconciled"] is True and s["findings"] == []
            assert (s["ledger_net"], s["ledger_closing"]) == (s["net"], s["closing"])
            assert s["net"] == s["redeemed"] - s["reversed"] == s["closing"] - s["opening"]
            assert [
                (x["kind"], x["reservation_id"], x["points"], x["staff_id"]) for x in s["lines"]
            ] == week.lines(day)
            closing = s["closing"]
        assert await merchant_balance(platform, week.tea) == closing == 170

    async def test_a_line_is_the_ledger_transaction_that_moved_the_points(self, http, platform, week):
        s = (await http.get("/v1/merchant/statements/2026-11-03", headers=week.tea.staff)).json()

        paid = spend_post_tx(spend_reserve_tx(BOB, week.ids["r2"], 70), "m_tea")
        refund = reverse_tx(spend_post_tx(spend_reserve_tx(ALICE, week.ids["r1"], 100), "m_tea"))
        assert [(x["tx_id"], datetime.fromisoformat(x["at"])) for x in s["lines"]] == [
            (paid.tx_id, FIRST_SECOND_OF_NOV_3),
            (refund.tx_id, FIRST_SECOND_OF_NOV_3 + timedelta(hours=1)),
        ]
        assert [x["offer_id"] for x in s["lines"]] == [week.jasmine.offer.offer_id, week.tea.offer.offer_id]

    async def test_the_csv_says_what_the_json_says(self, http, platform, week):
        for day in DAYS:
            s = (await http.get(f"/v1/merchant/statements/{day}", headers=week.tea.staff)).json()
            response = await http.get(f"/v1/merchant/statements/{day}.csv", headers=week.tea.staff)

            assert response.status_code == 200
            assert response.headers["content-type"].startswith("text/csv")
            assert f'filename="statement-m_tea-{day}.csv"' in response.headers["content-disposition"]
            rows = list(csv.DictReader(io.StringIO(response.text)))
            assert [
                {**row, "at": datetime.fromisoformat(row["at"]), "points": int(row["points"])} for row in rows
            ] == [
                {
                    "day": day.isoformat(),
                    **{k: v for k, v in line.items() if k != "at"},
                    "at": datetime.fromisoformat(line["at"]),
                }
                for line in s["lines"]
            ]

    async def test_the_list_summarises_each_day(self, http, platform, week):
        response = await http.get(
            "/v1/merchant/statements?from=2026-11-01&to=2026-11-06", headers=week.tea.staff
        )

        assert response.status_code == 200, response.text
        summary = response.json()
        assert [d["day"] for d in summary] == [d.isoformat() for d in DAYS]
        for entry, day in zip(summary, DAYS, strict=True):
            s = (await http.get(f"/v1/merchant/statements/{day}", headers=week.tea.staff)).json()
            assert entry == {
                "day": s["day"],
                "redemptions": sum(1 for x in s["lines"] if x["kind"] == "redemption"),
                "reversals": sum(1 for x in s["lines"] if x["kind"] == "reversal"),
                "redeemed": s["redeemed"],
                "reversed": s["reversed"],
                "net": s["net"],
                "closing": s["closing"],
                "reconciled": True,
            }
        assert [(d["redemptions"], d["reversals"]) for d in summary] == [
            (0, 0),
            (1, 0),
            (1, 1),
            (1, 0),
            (1, 1),
            (0, 0),
        ]

    async def test_by_default_the_list_is_the_last_thirty_days(self, http, platform, week):
        summary = (await http.get("/v1/merchant/statements", headers=week.tea.staff)).json()

        assert len(summary) == 30
        assert all(d["reconciled"] for d in summary)
        assert summary[-1]["closing"] == 170

    @pytest.mark.parametrize(
        "query", ["from=2026-11-06&to=2026-11-01", "from=2026-01-01&to=2026-11-06", "from=yesterday"]
    )
    async def test_a_bad_range_is_refused(self, http, platform, shop, query):
        response = await http.get(f"/v1/merchant/statements?{query}", headers=shop.staff)
        code = "invalid-request" if "yesterday" in query else "invalid-statement-range"
        assert_problem(response, 422, code)

    async def test_an_administrator_and_an_auditor_read_any_merchants_statement(self, http, platform, week):
        staff = (await http.get("/v1/merchant/statements/2026-11-03", headers=week.tea.staff)).json()
        for role in ("admin", "auditor"):
            response = await http.get(
                "/v1/admin/merchants/m_tea/statements/2026-11-03", headers=admin_headers(platform, role)
            )
            assert response.status_code == 200, response.text
            assert response.json() == staff

    async def test_another_merchants_staff_see_only_their_own(self, http, platform, week):
        bakery = await open_shop(platform, "m_bakery")
        s = (await http.get("/v1/merchant/statements/2026-11-03", headers=bakery.staff)).json()
        assert (s["merchant_id"], s["lines"], s["closing"], s["reconciled"]) == ("m_bakery", [], 0, True)

    async def test_a_reservation_row_altered_behind_the_ledger_shows_on_its_day(self, http, platform, week):
        async with platform.db.transaction() as tx:
            await tx.conn.execute(
                update(RESERVATIONS)
                .where(RESERVATIONS.c.reservation_id == week.ids["r2"])
                .values(points=RESERVATIONS.c.points + 1)
            )

        s = (await http.get("/v1/merchant/statements/2026-11-03", headers=week.tea.staff)).json()
        summary = (
            await http.get("/v1/merchant/statements?from=2026-11-01&to=2026-11-06", headers=week.tea.staff)
        ).json()

        assert s["reconciled"] is False
        assert s["findings"] == [
            "the lines add up to -29 points; the ledger moved -30",
            "the statement closes at 71 points; the ledger at 70",
        ]
        assert [d["reconciled"] for d in summary] == [True, True, False, True, True, True]
