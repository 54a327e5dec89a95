"""POST /v1/partner/bindings: one citizen per mobile number across partners, idempotent, and the
number itself stored nowhere."""

from __future__ import annotations

import hashlib
from typing import Any

import orjson
import pytest
from sqlalchemy import select
from sqlmodel import SQLModel

from backend.context import Platform
from partners.sdk import ApiError
from tests.e2e.partner_api.test_signing import assert_problem, count_rows, signed
from tests.factories import make_partner, mobile, sdk

BINDINGS = "/v1/partner/bindings"


@pytest.fixture
async def transit(platform, app):  # type: ignore[no-untyped-def]
    async with sdk(app, await make_partner(platform, "transit_st")) as client:
        yield client


async def counts(platform: Platform) -> tuple[int, int]:
    return await count_rows(platform, "citizens"), await count_rows(platform, "bindings")


class TestBindUser:
    async def test_binding_the_same_user_and_mobile_twice_is_idempotent(self, transit, platform):
        first = await transit.bind("wx_user_1", mobile(1))
        again = await transit.bind("wx_user_1", mobile(1))
        assert (first.created, again.created) == (True, False)
        assert first.citizen_id == again.citizen_id and first.citizen_id.startswith("c_")
        assert await counts(platform) == (1, 1)

    async def test_the_same_mobile_from_two_partners_is_one_citizen(self, transit, platform, app):
        via_transit = await transit.bind("wx_user_1", mobile(1))
        async with sdk(app, await make_partner(platform, "bike_st")) as bike:
            via_bike = await bike.bind("alipay_42", mobile(1))
        assert via_bike.created is True
        assert via_bike.citizen_id == via_transit.citizen_id
        assert await counts(platform) == (1, 2)

    async def test_the_same_user_id_at_two_partners_is_two_bindings(self, transit, platform, app):
        await transit.bind("u1", mobile(1))
        async with sdk(app, await make_partner(platform, "bike_st")) as bike:
            other = await bike.bind("u1", mobile(2))
        assert other.created is True
        assert await counts(platform) == (2, 2)

    async def test_rebinding_a_user_to_another_mobile_is_a_conflict_and_changes_nothing(
        self, transit, platform
    ):
        """A bound user keeps its citizen: a different number is refused, and creates no citizen."""
        # given
        bound = await transit.bind("wx_user_1", mobile(1))
        # when
        with pytest.raises(ApiError) as err:
            await transit.bind("wx_user_1", mobile(2))
        # then
        assert err.value.status == 409 and err.value.type.endswith("/binding-conflict")
        assert await counts(platform) == (1, 1)
        assert (await transit.bind("wx_user_1", mobile(1))).citizen_id == bound.citizen_id


BAD_MOBILES = [
    "13800000001",  # no country code
    "+08613800000001",  # a country code cannot start with 0
    "+86 138 0000 0001",  # spaces
    "+86-13800000001",
    "+8613800000001234",  # 16 digits: longer than E.164 allows
    "+12345",  # too short
    "+8613800000001\n",
    "+８６13800000001",  # full-width digits
    "",
    8613800000001,
    None,
]
BAD_BODIES: list[tuple[str, Any]] = [
    ("an empty user", {"user": "", "mobile": mobile(1)}),
    ("a user of 65 characters", {"user": "u" * 65, "mobile": mobile(1)}),
    ("a user with U+0000", {"user": "wx\u0000user", "mobile": mobile(1)}),
    ("a user that is a number", {"user": 42, "mobile": mobile(1)}),
    ("no user", {"mobile": mobile(1)}),
    ("no mobile", {"user": "wx_user_1"}),
    ("an extra field", {"user": "wx_user_1", "mobile": mobile(1), "name": "Li"}),
    ("a list", [{"user": "wx_user_1", "mobile": mobile(1)}]),
]


class TestBadBindings:
    @pytest.mark.parametrize("number", BAD_MOBILES, ids=repr)
    async def test_a_mobile_that_is_not_e164_is_refused(self, http, platform, number):
        creds = await make_partner(platform)
        response = await signed(http, creds, "POST", BINDINGS, orjson.dumps({"user": "u1", "mobile": number}))
        doc = assert_problem(response, 422, "invalid-request")
        assert doc["errors"][0]["pointer"] == "/mobile"
        assert await counts(platform) == (0, 0)

    @pytest.mark.parametrize(("case", "body"), BAD_BODIES, ids=[b[0] for b in BAD_BODIES])
    async def test_a_body_of_the_wrong_shape_is_refused(self, http, platform, case, body):
        creds = await make_partner(platform)
        response = await signed(http, creds, "POST", BINDINGS, orjson.dumps(body))
        assert_problem(response, 422, "invalid-request")
        assert await counts(platform) == (0, 0)

    async def test_a_body_that_is_not_json_is_malformed(self, http, platform):
        creds = await make_partner(platform)
        response = await signed(http, creds, "POST", BINDINGS, b"user=wx_user_1&mobile=%2B8613800000001")
        assert_problem(response, 400, "malformed-json")
        assert await counts(platform) == (0, 0)

    async def test_a_conflict_is_answered_as_a_problem_document(self, http, platform, transit):
        await transit.bind("wx_user_1", mobile(1))
        creds = await make_partner(platform, "canteen_st")
        await signed(http, creds, "POST", BINDINGS, orjson.dumps({"user": "wx_user_1", "mobile": mobile(1)}))
        response = await signed(
            http, creds, "POST", BINDINGS, orjson.dumps({"user": "wx_user_1", "mobile": mobile(3)})
        )
        assert_problem(response, 409, "binding-conflict")
        assert mobile(3) not in response.text and mobile(1) not in response.text
        assert await counts(platform) == (1, 2)


class TestMobilePrivacy:
    async def test_no_mobile_number_appears_in_any_column_or_redis_value(self, transit, platform, app):
        """The number is kept only as a keyed hash: neither a database dump nor Redis reveals it."""
        # given
        numbers = ["+8613912345678", "+8615887654321", "+85261234567"]
        for i, number in enumerate(numbers):
            await transit.bind(f"wx_user_{i}", number)
        # when
        stored = await everything_stored(platform)
        # then
        assert len(stored) > 20, "the scan found almost nothing: it would prove nothing"
        for number in numbers:
            subscriber = number[-8:]  # with or without country code, these digits would show
            assert not [text for text in stored if subscriber in text], number

    async def test_the_stored_hash_is_keyed_not_a_plain_digest(self, transit, platform):
        await transit.bind("wx_user_1", mobile(1))
        async with platform.db.read() as conn:
            (stored,) = (await conn.execute(select(SQLModel.metadata.tables["citizens"].c.mobile_hash))).one()
        plain = {hashlib.sha256(v.encode()).hexdigest() for v in (mobile(1), mobile(1)[1:])}
        assert stored not in plain and len(stored) == 64


async def everything_stored(platform: Platform) -> list[str]:
    """Every value of every row of every table, and every Redis key and string value of this run."""
    texts: list[str] = []
    async with platform.db.read() as conn:
        for table in SQLModel.metadata.sorted_tables:
            for row in await conn.execute(select(table)):
                texts.extend(str(value) for value in row)
    async for key in platform.redis.scan_iter(match=f"{platform.settings.redis_prefix}:*"):
        texts.append(key.decode())
        if await platform.redis.type(key) == b"string":
            texts.append((await platform.redis.get(key) or b"").decode("latin-1"))
    return texts
