"""The audit log's hash chain: the canonical form of an event, the chain hash, and verification.

The properties: any single alteration, deletion, insertion or reordering of a chain is found, and
the first problem names the row it was made at; what the chain cannot see on its own (a rewritten
tail) is found with an anchor kept elsewhere.
"""

from __future__ import annotations

import dataclasses
import hashlib
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from points_engine.audit import (
    GENESIS,
    AuditEvent,
    ChainedEvent,
    InvalidAuditEvent,
    canonical,
    chain,
    chain_hash,
    verify_chain,
)

AT = datetime(2026, 11, 24, 8, 15, 0, 123456, tzinfo=timezone(timedelta(hours=8)))
EVENT = AuditEvent(
    1, AT, "op_admin", "partner.created", "partner:transit_st", {"key_id": "k1", "name": "汕头"}
)


class TestCanonicalForm:
    def test_the_canonical_form_is_sorted_compact_utf8_json_with_utc_microseconds(self):
        assert (
            canonical(EVENT)
            == (
                '{"action":"partner.created","actor":"op_admin","at":"2026-11-24T00:15:00.123456Z",'
                '"details":{"key_id":"k1","name":"汕头"},"seq":1,"subject":"partner:transit_st"}'
            ).encode()
        )

    def test_whole_seconds_still_carry_six_digits(self):
        at = datetime(2026, 1, 1, tzinfo=UTC)
        assert b'"at":"2026-01-01T00:00:00.000000Z"' in canonical(dataclasses.replace(EVENT, at=at))

    def test_the_chain_hash_is_sha256_of_the_previous_hash_bytes_then_the_canonical_form(self):
        expected = hashlib.sha256(bytes(32) + canonical(EVENT)).hexdigest()
        assert chain_hash(GENESIS, EVENT) == expected
        assert chain(GENESIS, EVENT) == ChainedEvent(EVENT, GENESIS, expected)

    @pytest.mark.parametrize(
        ("case", "changes"),
        [
            ("a naive time", {"at": datetime(2026, 1, 1)}),
            ("a seq of 0", {"seq": 0}),
            ("a bool for a seq", {"seq": True}),
            ("an empty actor", {"actor": ""}),
            ("an actor over 80 characters", {"actor": "a" * 81}),
            ("an action without a dot", {"action": "created"}),
            ("an action in capitals", {"action": "Partner.Created"}),
            ("U+0000 in the subject", {"subject": "partner:\x00"}),
            ("a float in details", {"details": {"share": 0.5}}),
            ("a lone surrogate in details", {"details": {"name": "\ud800"}}),
            ("a non-ASCII key in details", {"details": {"名": 1}}),
            ("details that are a list", {"details": [1]}),
            ("a set in details", {"details": {"ids": {1}}}),
        ],
    )
    def test_an_event_without_a_portable_canonical_form_is_refused(self, case, changes):
        with pytest.raises(InvalidAuditEvent):
            canonical(dataclasses.replace(EVENT, **changes))

    def test_a_malformed_previous_hash_is_refused(self):
        with pytest.raises(InvalidAuditEvent):
            chain_hash(GENESIS.upper().replace("0", "A"), EVENT)


# --- chains -------------------------------------------------------------------------------------

texts = st.text(
    st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"), min_size=1, max_size=12
)
details = st.dictionaries(
    st.from_regex(r"[a-z_]{1,8}", fullmatch=True),
    st.one_of(st.none(), st.booleans(), st.integers(), texts, st.lists(st.integers(), max_size=3)),
    max_size=4,
)
actions = st.sampled_from(
    ["partner.created", "partner.key-rotated", "partner.key-revoked", "methodology.published"]
)
moments = st.datetimes(min_value=datetime(2020, 1, 1), max_value=datetime(2040, 1, 1), timezones=st.just(UTC))


@st.composite
def chains(draw: st.DrawFn, min_size: int = 1) -> list[ChainedEvent]:
    n = draw(st.integers(min_size, 12))
    rows: list[ChainedEvent] = []
    prev = GENESIS
    for seq in range(1, n + 1):
        event = AuditEvent(seq, draw(moments), draw(texts), draw(actions), draw(texts), draw(details))
        rows.append(chain(prev, event))
        prev = rows[-1].hash
    return rows


def named(rows: list[ChainedEvent], **kwargs: Any) -> list[int]:
    report = verify_chain(rows, **kwargs)
    assert report.ok is (report.problem_count == 0)
    return [p.seq for p in report.problems]


def altered(row: ChainedEvent, field: str, value: Any) -> ChainedEvent:
    if field in ("prev_hash", "hash"):
        return dataclasses.replace(row, **{field: value})
    return dataclasses.replace(row, event=dataclasses.replace(row.event, **{field: value}))


class TestVerify:
    def test_an_empty_chain_is_whole_and_its_head_is_genesis(self):
        report = verify_chain([])
        assert report.ok and report.rows == 0 and (report.head_seq, report.head_hash) == (0, GENESIS)

    @given(chains())
    def test_a_chain_as_written_verifies_and_reports_its_head(self, rows):
        report = verify_chain(rows)
        assert report.ok and report.problems == ()
        assert (report.rows, report.head_seq, report.head_hash) == (len(rows), len(rows), rows[-1].hash)

    @settings(max_examples=300)
    @given(chains(), st.data())
    def test_any_single_field_altered_is_found_at_that_row(self, rows, data):
        k = data.draw(st.integers(1, len(rows)), label="row")
        row = rows[k - 1]
        field, value = data.draw(
            st.sampled_from(
                [
                    ("at", st.just(row.event.at + timedelta(microseconds=1))),
                    ("actor", texts),
                    ("action", actions),
                    ("subject", texts),
                    ("details", details),
                    ("prev_hash", st.from_regex(r"[0-9a-f]{64}", fullmatch=True)),
                    ("hash", st.from_regex(r"[0-9a-f]{64}", fullmatch=True)),
                ]
            ).flatmap(lambda fv: fv[1].map(lambda v: (fv[0], v))),
            label="change",
        )
        changed = altered(row, field, value)
        if changed == row:
            return
        rows[k - 1] = changed
        problems = named(rows)
        assert problems and problems[0] == k

    @given(chains(), st.data())
    def test_a_row_moved_to_a_free_seq_is_named_at_both_seqs(self, rows, data):
        """The database keeps seq unique and returns rows by seq: a moved row lands on a free seq."""
        n = len(rows)
        k = data.draw(st.integers(1, n), label="row")
        j = data.draw(st.one_of(st.integers(-5, 0), st.integers(n + 1, n + 5)), label="new seq")
        rows[k - 1] = altered(rows[k - 1], "seq", j)
        problems = named(sorted(rows, key=lambda r: r.event.seq))
        assert j in problems
        assert k in problems or k == n  # the last row moved away leaves a valid, shorter chain behind

    @given(chains(min_size=2), st.data())
    def test_a_deleted_row_is_named_as_missing(self, rows, data):
        k = data.draw(st.integers(1, len(rows) - 1), label="row")
        del rows[k - 1]
        report = verify_chain(rows)
        assert (report.problems[0].seq, report.problems[0].code) == (k, "missing")
        assert [(p.seq, p.code) for p in report.problems] == [(k, "missing"), (k + 1, "broken-link")]

    @given(chains(), st.data())
    def test_a_forged_row_inserted_is_found_at_its_seq(self, rows, data):
        """The strongest forgery: the right seq, linked to the row before, its own hash correct."""
        k = data.draw(st.integers(1, len(rows)), label="before row")
        prev = rows[k - 2].hash if k > 1 else GENESIS
        forged = chain(
            prev, AuditEvent(k, data.draw(moments), "intruder", "partner.created", "partner:x", {})
        )
        rows.insert(k - 1, forged)
        problems = named(rows)
        assert problems and problems[0] == k

    @given(chains(min_size=2), st.data())
    def test_two_rows_swapped_are_found_at_the_first(self, rows, data):
        i = data.draw(st.integers(1, len(rows) - 1), label="first")
        j = data.draw(st.integers(i + 1, len(rows)), label="second")
        rows[i - 1], rows[j - 1] = rows[j - 1], rows[i - 1]
        problems = named(rows)
        assert problems and problems[0] == i

    @given(chains(), st.data())
    def test_a_row_rewritten_with_its_hash_recomputed_breaks_the_next_link(self, rows, data):
        k = data.draw(st.integers(1, len(rows)), label="row")
        rewritten = dataclasses.replace(rows[k - 1].event, actor="someone-else")
        head = rows[-1]
        rows[k - 1] = chain(rows[k - 1].prev_hash, rewritten)
        if k < len(rows):
            assert named(rows)[0] == k + 1
        else:  # the head itself: only an anchor kept elsewhere can tell
            assert named(rows) == []
        assert named(rows, anchors={head.event.seq: head.hash}) != []

    @given(chains(), st.data())
    def test_a_tail_rewritten_from_any_row_is_found_by_an_anchor_of_the_old_head(self, rows, data):
        k = data.draw(st.integers(1, len(rows)), label="from row")
        anchor = {rows[-1].event.seq: rows[-1].hash}
        prev = rows[k - 2].hash if k > 1 else GENESIS
        for i in range(k - 1, len(rows)):
            rows[i] = chain(prev, dataclasses.replace(rows[i].event, subject="partner:rewritten"))
            prev = rows[i].hash
        assert verify_chain(rows).ok  # a consistent rewrite: the chain alone cannot tell
        report = verify_chain(rows, anchors=anchor)
        if rows[-1].hash != anchor[len(rows)]:
            assert [(p.seq, p.code) for p in report.problems] == [(len(rows), "anchor-mismatch")]

    @given(chains(min_size=2), st.data())
    def test_rows_cut_off_the_end_are_found_by_an_anchor_of_the_old_head(self, rows, data):
        keep = data.draw(st.integers(0, len(rows) - 1), label="rows kept")
        anchor = {len(rows): rows[-1].hash}
        report = verify_chain(rows[:keep], anchors=anchor)
        assert [(p.seq, p.code) for p in report.problems] == [(len(rows), "anchor-missing")]

    def test_only_the_first_problems_are_kept_but_all_are_counted(self):
        rows = [chain(GENESIS, dataclasses.replace(EVENT, seq=s)) for s in range(1, 11)]
        report = verify_chain(rows, keep=3)
        assert len(report.problems) == 3 and report.problem_count == 9  # rows 2-10 link to GENESIS
        assert not report.ok

    def test_a_row_that_has_no_canonical_form_is_reported_not_raised(self):
        rows = [chain(GENESIS, EVENT)]
        rows[0] = altered(rows[0], "details", {"share": 0.5})
        [problem] = verify_chain(rows).problems
        assert (problem.seq, problem.code) == (1, "altered") and "canonical" in problem.detail
