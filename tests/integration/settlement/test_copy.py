"""COPY's text format, rendered by hand for speed, stores every value exactly."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import text

from backend.settlement.repository import copy_rows
from tests.conftest import BACKEND

pytestmark = pytest.mark.skipif(BACKEND != "postgres", reason="COPY is PostgreSQL's")

ROWS = [
    ("plain", 1, True, datetime(2026, 11, 25, 8, 0, 0, 123456, tzinfo=UTC)),
    ("tab\there", -(2**62), False, datetime(2026, 1, 1, tzinfo=UTC)),
    ("new\nline\r\\back\\slash\\N", 0, None, None),
    ("汉字 and spaces", None, True, datetime(2026, 11, 25, tzinfo=UTC)),
]


async def test_values_come_back_exactly(platform):
    async with platform.db.transaction() as tx:
        await tx.conn.execute(
            text("CREATE TEMP TABLE copy_probe (s text, n bigint, b boolean, t timestamptz) ON COMMIT DROP")
        )
        await copy_rows(tx.conn, "copy_probe", ("s", "n", "b", "t"), ROWS)
        back = [tuple(r) for r in await tx.conn.execute(text("SELECT s, n, b, t FROM copy_probe"))]
    assert back == ROWS
