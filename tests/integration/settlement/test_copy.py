"""COPY's text format, rendered by hand for speed, stores every value exactly."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import text

from backend.settlement.repository import (
    OUTCOME_COLUMNS,
    TX_COLUMNS,
    _copy_line,
    _outcome_row,
    copy_rows,
    copy_text,
    outcomes_copy,
    tx_row,
    txs_copy,
)
from points_engine.actions import Action, ActionBody, CleanPlate, Trip
from points_engine.ledger import settle_tx
from points_engine.records import Accepted
from points_engine.rules import Outcome
from points_engine.settlement import Settlement
from tests.conftest import BACKEND

postgres_only = pytest.mark.skipif(BACKEND != "postgres", reason="COPY is PostgreSQL's")

ROWS = [
    ("plain", 1, True, datetime(2026, 11, 25, 8, 0, 0, 123456, tzinfo=UTC)),
    ("tab\there", -(2**62), False, datetime(2026, 1, 1, tzinfo=UTC)),
    ("new\nline\r\\back\\slash\\N", 0, None, None),
    ("汉字 and spaces", None, True, datetime(2026, 11, 25, tzinfo=UTC)),
]
NOW = datetime(2026, 11, 25, 8, 0, 1, 654321, tzinfo=UTC)
AT = datetime(2026, 11, 24, 23, 59, 59, 999999, tzinfo=UTC)
MEAL = CleanPlate("k", "lunch", "staff")


def settlement(event_id: str, cause: str, flagged: bool = False, reasons: tuple[str, ...] = ()) -> Settlement:
    """A settlement as the engine makes them; ids and causes as the test needs, odd ones included."""
    body = ActionBody("trip", AT, "440523", Trip("bus", 5200, 1380))
    accepted = Accepted("c_汉1", Action("p_transit", event_id, "u1", body))
    status = "capped" if reasons else "credited"
    outcome = Outcome(status, 139, 139, reasons, flagged, "trip.bus@2026.1", "nanao")
    return Settlement(accepted, outcome, settle_tx("nanao", "c_1", cause, 139))


PLAIN = [
    settlement("ev-1", "p_transit/ev-1"),
    settlement("ev-2", "p_transit/ev-2", flagged=True, reasons=("cap-daily-reduction", "repetition-review")),
    Settlement(
        Accepted("c_2", Action("p_canteen", "ev-6", "u2", ActionBody("clean_plate", AT, "440507", MEAL))),
        Outcome.rejected("no-methodology", "clean_plate", "shantou"),
        None,
    ),
]
# What COPY must escape (ids never hold it): a batch holding one is rendered value by value.
TO_ESCAPE = [
    settlement("ev\t3", "p_transit/ev\\3"),
    settlement("ev\\N", "p_transit/ev\\N"),
    settlement("ev\r\n5", "p_transit/ev-5"),
]
SETTLED = PLAIN + TO_ESCAPE


class TestRendering:
    @pytest.mark.parametrize("settled", [PLAIN, SETTLED], ids=["plain ids", "ids to escape"])
    def test_outcome_rows_are_what_rendering_each_value_gives(self, settled: list[Settlement]) -> None:
        expected = "".join(_copy_line(_outcome_row(s, 5, 1_000 + i, NOW)) for i, s in enumerate(settled))
        assert outcomes_copy(settled, 5, 1_000, NOW) == expected

    @pytest.mark.parametrize("settled", [PLAIN, SETTLED], ids=["plain causes", "causes to escape"])
    def test_transaction_rows_are_what_rendering_each_value_gives(self, settled: list[Settlement]) -> None:
        txs = [s.transaction for s in settled if s.transaction is not None]
        assert txs_copy(txs, NOW) == "".join(_copy_line(tx_row(tx, NOW)) for tx in txs)


@postgres_only
async def test_values_come_back_exactly(platform):
    async with platform.db.transaction() as tx:
        await tx.conn.execute(
            text("CREATE TEMP TABLE copy_probe (s text, n bigint, b boolean, t timestamptz) ON COMMIT DROP")
        )
        await copy_rows(tx.conn, "copy_probe", ("s", "n", "b", "t"), ROWS)
        back = [tuple(r) for r in await tx.conn.execute(text("SELECT s, n, b, t FROM copy_probe"))]
    assert back == ROWS


@postgres_only
async def test_rendered_settlements_come_back_exactly(platform):
    txs = [s.transaction for s in SETTLED if s.transaction is not None]
    async with platform.db.transaction() as tx:
        for table in ("outcomes", "ledger_transactions"):
            await tx.conn.execute(text(f"CREATE TEMP TABLE probe_{table} (LIKE {table}) ON COMMIT DROP"))
        await copy_text(tx.conn, "probe_outcomes", OUTCOME_COLUMNS, outcomes_copy(SETTLED, 5, 1_000, NOW))
        await copy_text(tx.conn, "probe_ledger_transactions", TX_COLUMNS, txs_copy(txs, NOW))
        outcomes = await tx.conn.execute(
            text(f"SELECT {', '.join(OUTCOME_COLUMNS)} FROM probe_outcomes ORDER BY seq")
        )
        back_txs = await tx.conn.execute(
            text(f"SELECT {', '.join(TX_COLUMNS)} FROM probe_ledger_transactions")
        )
        assert [tuple(r) for r in outcomes] == [
            _outcome_row(s, 5, 1_000 + i, NOW) for i, s in enumerate(SETTLED)
        ]
        assert sorted(tuple(r) for r in back_txs) == sorted(tx_row(t, NOW) for t in txs)
