"""The issue's "done when", through the APIs alone: a partner binds a user and exchanges a citizen
token; with it the citizen checks balances, reserves an offer and fetches its QR; the merchant's
till (a staff token from the admin API) scans the QR's content; the day's statement reconciles."""

from __future__ import annotations

import io
from datetime import UTC, datetime, timedelta

import zxingcpp
from PIL import Image

from points_engine.certification import SHANGHAI
from tests.factories import make_partner, mobile, sdk
from tests.redemption_world import admin_headers, fund


async def test_a_partners_citizen_spends_points_at_a_merchant_through_the_api(http, app, platform):
    # The partner binds its user and gets a token for the citizen's mini-program session.
    partner = sdk(app, await make_partner(platform, "transit_st"))
    binding = await partner.bind("wx_o6_done", mobile(77))
    exchanged = await partner.citizen_token("wx_o6_done")
    me = {"authorization": f"Bearer {exchanged.access_token}"}
    await fund(platform, binding.citizen_id, 500)  # certified points (what a certification run makes)

    # An administrator opens a merchant, a till and an offer.
    admin = admin_headers(platform)
    merchant = await http.post(
        "/v1/admin/merchants", json={"merchant_id": "m_done", "name": "Done tea"}, headers=admin
    )
    assert merchant.status_code == 201, merchant.text
    till = (await http.post("/v1/admin/merchants/m_done/staff", json={"name": "Lin"}, headers=admin)).json()
    now = datetime.now(UTC)
    offer = await http.post(
        "/v1/admin/offers",
        json={
            "merchant_id": "m_done", "title": "Oolong, 50 g", "price_points": 180, "stock": 3,
            "valid_from": (now - timedelta(hours=1)).isoformat(),
            "valid_until": (now + timedelta(days=1)).isoformat(),
        },
        headers=admin,
    )  # fmt: skip
    assert offer.status_code == 201, offer.text

    # The citizen checks their balance, reserves, and shows the QR.
    assert (await http.get("/v1/citizen/balances", headers=me)).json()["available"] == 500
    reserved = await http.post(
        "/v1/citizen/reservations", json={"offer_id": offer.json()["offer_id"]}, headers=me
    )
    assert reserved.status_code == 201, reserved.text
    qr = await http.get(reserved.json()["code"]["qr_png"], headers=me)
    scanned = zxingcpp.read_barcodes(Image.open(io.BytesIO(qr.content)))[0].text
    held = (await http.get("/v1/citizen/balances", headers=me)).json()
    assert (held["available"], held["held"]) == (320, 180)

    # The till scans it.
    staff = {"authorization": f"Bearer {till['access_token']}"}
    paid = await http.post("/v1/merchant/redemptions", json={"code": scanned}, headers=staff)
    assert paid.status_code == 200, paid.text
    assert paid.json()["status"] == "redeemed" and paid.json()["points"] == 180
    after = (await http.get("/v1/citizen/balances", headers=me)).json()
    assert (after["available"], after["held"]) == (320, 0)

    # The day's statement shows it and reconciles with the ledger, in JSON and CSV.
    today = datetime.now(SHANGHAI).date().isoformat()
    statement = (await http.get(f"/v1/merchant/statements/{today}", headers=staff)).json()
    assert statement["reconciled"] is True and statement["findings"] == []
    assert (statement["redeemed"], statement["closing"]) == (180, 180)
    assert [line["reservation_id"] for line in statement["lines"]] == [reserved.json()["reservation_id"]]
    csv = await http.get(f"/v1/merchant/statements/{today}.csv", headers=staff)
    assert csv.text.splitlines()[1].split(",")[6] == "180"
