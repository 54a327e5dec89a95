"""The pure parts of a certification run: periods, issuance with carry-over, the chunked tree."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from points_engine.certification import (
    CHUNK,
    GRAMS_PER_TONNE,
    InvalidPeriod,
    Period,
    audit_path_of_hashes,
    chunk_of,
    chunked_audit_path,
    chunked_root,
    issue,
    leaf_hash,
    root_of_hashes,
    run_id,
    verify_inclusion,
)
from points_engine.errors import InvariantViolation
from points_engine.ledger import Account, certify_run_tx


class TestPeriod:
    def test_a_month_is_bounded_in_shanghai_time(self):
        november = Period.parse("2026-11")
        assert november.start == datetime(2026, 10, 31, 16, tzinfo=UTC)
        assert november.end == datetime(2026, 11, 30, 16, tzinfo=UTC)
        assert november.vintage == 2026 and str(november) == "2026-11"

    def test_december_rolls_into_the_next_year_and_january_back(self):
        assert Period.parse("2026-12").next() == Period(2027, 1)
        assert Period.parse("2027-01").previous() == Period(2026, 12)

    def test_the_period_of_an_instant_is_its_shanghai_month(self):
        assert Period.containing(datetime(2026, 10, 31, 16, 0, tzinfo=UTC)) == Period(2026, 11)
        assert Period.containing(datetime(2026, 10, 31, 15, 59, 59, tzinfo=UTC)) == Period(2026, 10)

    def test_a_period_has_begun_from_its_first_instant(self):
        november = Period.parse("2026-11")
        assert november.has_begun(november.start)
        assert not november.has_begun(datetime(2026, 10, 31, 15, 59, tzinfo=UTC))

    @pytest.mark.parametrize(
        "text", ["2026-13", "2026-00", "2026-1", "26-11", "2026-11-01", "", "١٢٣٤-11", "1999-12"]
    )
    def test_anything_but_a_month_is_refused(self, text):
        with pytest.raises(InvalidPeriod):
            Period.parse(text)


class TestIssuance:
    @given(st.integers(0, GRAMS_PER_TONNE - 1), st.integers(0, 10**13))
    def test_grams_are_conserved_and_only_whole_tonnes_issued(self, carry_in, grams):
        issued = issue("nanao", 2026, 3, carry_in, grams)
        assert issued.tonnes * GRAMS_PER_TONNE + issued.carry_out_g == carry_in + grams
        assert 0 <= issued.carry_out_g < GRAMS_PER_TONNE
        if issued.tonnes:
            assert issued.range is not None and issued.range.tonnes == issued.tonnes
            assert str(issued.range) == f"TH-NANAO-2026-000003-000000001-{issued.tonnes:09d}"
        else:
            assert issued.range is None

    def test_a_carry_over_of_a_whole_tonne_or_negative_grams_is_a_bug(self):
        for carry, grams in ((GRAMS_PER_TONNE, 0), (0, -1), (-1, 5)):
            with pytest.raises(InvariantViolation):
                issue("shantou", 2026, 1, carry, grams)

    def test_run_ids_name_book_period_and_number(self):
        assert run_id("nanao", "2026-11", 3) == "run_nanao_2026-11_000003"


def _tree(n: int) -> tuple[list[bytes], list[bytes]]:
    hashes = [leaf_hash(i.to_bytes(4, "big")) for i in range(n)]
    roots = [root_of_hashes(hashes[i : i + CHUNK])[0] for i in range(0, n, CHUNK)]
    return hashes, roots


@pytest.mark.parametrize("n", [1, 2, 1023, 1024, 1025, 2048, 2049, 3 * 1024 + 7, 5 * 1024])
def test_the_root_over_chunk_roots_is_the_root_over_all_leaves(n):
    hashes, roots = _tree(n)
    assert chunked_root(roots) == root_of_hashes(hashes)[0]


@given(st.integers(1, 4 * CHUNK + 300), st.data())
def test_a_chunked_audit_path_is_the_rfc_6962_path(n, data):
    hashes, roots = _tree(n)
    index = data.draw(st.integers(0, n - 1))
    chunk, inside = chunk_of(index)
    block = hashes[chunk * CHUNK : (chunk + 1) * CHUNK]
    path = chunked_audit_path(block, inside, roots, chunk)
    assert path == audit_path_of_hashes(hashes, index)
    assert verify_inclusion(index.to_bytes(4, "big"), index, n, path, chunked_root(roots))


def test_certify_run_moves_a_citizens_points_from_pending_to_available_once_per_run():
    tx = certify_run_tx("run_nanao_2026-11_000003", "c_1", 120)
    assert (tx.debit.account, tx.credit.account, tx.amount) == (
        Account.pending("c_1"),
        Account.available("c_1"),
        120,
    )
    assert tx == certify_run_tx("run_nanao_2026-11_000003", "c_1", 120)
    assert tx.tx_id != certify_run_tx("run_nanao_2026-11_000004", "c_1", 120).tx_id
