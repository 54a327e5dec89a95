"""The pure rules of spending points: what a code proves, how a typed short code is read, which
refusal a citizen sees first, when a reversal window closes, and what a statement adds up to."""

from __future__ import annotations

import hashlib
import re
from datetime import UTC, date, datetime, timedelta

import pytest
from hypothesis import assume, example, given, settings
from hypothesis import strategies as st

from points_engine.redemption import (
    CodeExpired,
    InsufficientPoints,
    InvalidCode,
    InvalidOffer,
    OfferOutOfWindow,
    OfferTerms,
    OfferUnavailable,
    OutOfStock,
    OverLimit,
    ReversalWindowClosed,
    ScannedCode,
    StatementLine,
    check_reservable,
    check_reversible,
    check_terms,
    lookup_hash,
    normalize_short,
    read,
    reconcile,
    short_code,
    sign,
    statement,
    verify,
)
from points_engine.redemption.codes import ALPHABET

KEY = hashlib.sha256(b"test redemption key").digest()
OTHER_KEY = hashlib.sha256(b"another platform's key").digest()
RID = "r_" + "0123456789abcdef01234567"
T0 = datetime(2026, 11, 3, 8, 0, tzinfo=UTC)
# Pure and fast: a deadline here would only measure how loaded the machine is.
relaxed = settings(deadline=None)
SHORT = re.compile(rf"[{ALPHABET}]{{5}}-[{ALPHABET}]{{5}}")

keys = st.binary(min_size=16, max_size=64)
reservation_ids = st.text("0123456789abcdef", min_size=24, max_size=24).map(lambda h: "r_" + h)
expiries = st.integers(min_value=0, max_value=10**12 - 1)


# Tokens ----------------------------------------------------------------------------------------


class TestTokens:
    @relaxed
    @given(keys, reservation_ids, expiries)
    def test_a_signed_token_verifies_to_what_was_signed(self, key, rid, expires):
        token = sign(key, rid, expires)
        assert token.startswith(f"THR1.{rid}.{expires}.")
        assert verify(key, token) == ScannedCode(rid, expires)
        assert verify(key, f"  {token}\n") == ScannedCode(rid, expires)  # a scanner's trailing newline
        assert read(key, token, now=expires - 1) == ScannedCode(rid, expires)

    @relaxed
    @given(reservation_ids, expiries, st.data())
    @example(RID, 1_790_000_000, None)
    def test_any_single_character_change_makes_the_token_invalid(self, rid, expires, data):
        token = sign(KEY, rid, expires)
        if data is None:  # the last character of the MAC: 4 of its 6 bits are padding
            changed = [token[:-1] + c for c in "ABCDEFGHIJKLMNOPabcdef-_" if c != token[-1]]
        else:
            at = data.draw(st.integers(0, len(token) - 1), label="at")
            edit = data.draw(st.sampled_from(["replace", "delete", "insert"]), label="edit")
            char = data.draw(st.characters(codec="utf-8", exclude_characters=token[at]), label="char")
            changed = [
                {
                    "replace": token[:at] + char + token[at + 1 :],
                    "delete": token[:at] + token[at + 1 :],
                    "insert": token[:at] + char + token[at:],
                }[edit]
            ]
        for altered in changed:
            assume(altered.strip() != token)  # whitespace added at either end is a scanner's, not a change
            with pytest.raises(InvalidCode):
                verify(KEY, altered)

    @relaxed
    @given(reservation_ids, expiries)
    def test_a_token_signed_with_another_key_is_invalid(self, rid, expires):
        with pytest.raises(InvalidCode, match="signature"):
            verify(KEY, sign(OTHER_KEY, rid, expires))

    def test_a_stretched_expiry_breaks_the_signature(self):
        token = sign(KEY, RID, 1_790_000_000)
        stretched = token.replace(".1790000000.", ".1790999999.")
        with pytest.raises(InvalidCode, match="signature"):
            verify(KEY, stretched)

    @pytest.mark.parametrize(
        "token", ["", "THR1", "THR1..0.", "hello world", "THR2." + RID + ".1.x", None, 42]
    )
    def test_what_is_not_a_token_is_invalid(self, token):
        with pytest.raises(InvalidCode):
            verify(KEY, token)

    @pytest.mark.parametrize(
        ("rid", "expires"), [("r_123", 1), ("c_0123456789abcdef01234567", 1), (RID.upper(), 1), (RID, -1)]
    )
    def test_sign_refuses_what_it_could_not_read_back(self, rid, expires):
        with pytest.raises(InvalidCode):
            sign(KEY, rid, expires)

    def test_a_code_is_live_until_the_second_it_expires(self):
        expires = int(T0.timestamp())
        token = sign(KEY, RID, expires)
        assert read(KEY, token, now=expires - 1).expires_at == expires
        for now in (expires, expires + 1, expires + 10**6):
            with pytest.raises(CodeExpired):
                read(KEY, token, now=now)

    def test_a_forged_token_never_learns_whether_it_would_have_expired(self):
        forged = sign(OTHER_KEY, RID, 100)
        with pytest.raises(InvalidCode):
            read(KEY, forged, now=10**9)


# Short codes -----------------------------------------------------------------------------------


def mistyped(code: str, draw: st.DrawFn) -> str:
    """``code`` as a person might type it: any case, 0 as O, 1 as I or L, dashes and spaces anywhere."""
    out = []
    for c in code.replace("-", ""):
        c = {"0": draw(st.sampled_from("0Oo")), "1": draw(st.sampled_from("1IiLl"))}.get(c, c)
        c = c.lower() if draw(st.booleans()) else c
        out.append(draw(st.sampled_from(["", "", " ", "-"])) + c)
    return "".join(out) + draw(st.sampled_from(["", " ", "-"]))  # at most 21 characters


class TestShortCodes:
    @relaxed
    @given(keys, reservation_ids)
    def test_a_short_code_is_ten_crockford_characters_in_two_halves(self, key, rid):
        code = short_code(key, rid)
        assert SHORT.fullmatch(code)
        assert short_code(key, rid) == code
        assert normalize_short(code) == code

    def test_a_short_code_depends_on_the_key_and_the_reservation(self):
        other_rid = "r_" + "f" * 24
        codes = {short_code(KEY, RID), short_code(OTHER_KEY, RID), short_code(KEY, other_rid)}
        assert len(codes) == 3

    @relaxed
    @given(keys, reservation_ids, st.data())
    def test_typing_is_forgiven_case_spaces_dashes_and_look_alikes(self, key, rid, data):
        code = short_code(key, rid)
        typed = mistyped(code, data.draw)
        assert normalize_short(typed) == code
        assert lookup_hash(typed) == lookup_hash(code) == hashlib.sha256(code.encode()).hexdigest()

    @pytest.mark.parametrize(
        ("typed", "canonical"),
        [
            ("abcde-fghjk", "ABCDE-FGHJK"),
            ("abcdefghjk", "ABCDE-FGHJK"),
            (" ab cd e fg hj k ", "ABCDE-FGHJK"),
            ("OoIiL-l0123", "00111-10123"),
            ("--ZZZZZZZZZZ--", "ZZZZZ-ZZZZZ"),
        ],
    )
    def test_normalisation_examples(self, typed, canonical):
        assert normalize_short(typed) == canonical

    @pytest.mark.parametrize(
        "typed",
        [
            "",
            "ABCDE-FGHJ",  # nine characters
            "ABCDE-FGHJKM",  # eleven
            "ABCDE-FGHJU",  # U is not in Crockford's alphabet
            "ABCDE_FGHJK",
            "ABCDE.FGHJK",
            "A" * 10 + " " * 23,  # longer than 32 as typed
            None,
            1234567890,
        ],
    )
    def test_what_cannot_be_a_short_code_is_invalid(self, typed):
        with pytest.raises(InvalidCode):
            normalize_short(typed)
        with pytest.raises(InvalidCode):
            lookup_hash(typed)

    @relaxed
    @given(keys, reservation_ids, reservation_ids)
    def test_two_reservations_have_different_lookup_hashes(self, key, a, b):
        assume(a != b)
        # 50 bits: a collision among random pairs would be a one-in-10^15 event, i.e. a bug
        assert lookup_hash(short_code(key, a)) != lookup_hash(short_code(key, b))


# Offers ----------------------------------------------------------------------------------------

GOOD = {
    "price_points": 100,
    "stock": 10,
    "per_citizen_limit": 1,
    "valid_from": T0,
    "valid_until": T0 + timedelta(days=30),
    "book": "shantou",
}


class TestTerms:
    def test_good_terms_pass_at_their_bounds(self):
        check_terms(**GOOD)
        check_terms(**{**GOOD, "price_points": 10_000_000, "stock": 0, "per_citizen_limit": 1_000})
        check_terms(**{**GOOD, "stock": 10_000_000, "book": "nanao"})
        check_terms(**{**GOOD, "valid_until": T0 + timedelta(microseconds=1)})

    @pytest.mark.parametrize(
        ("change", "named"),
        [
            ({"price_points": 0}, "price_points"),
            ({"price_points": 10_000_001}, "price_points"),
            ({"price_points": True}, "price_points"),
            ({"price_points": 1.0}, "price_points"),
            ({"per_citizen_limit": 0}, "per_citizen_limit"),
            ({"per_citizen_limit": 1_001}, "per_citizen_limit"),
            ({"stock": -1}, "stock"),
            ({"stock": 10_000_001}, "stock"),
            ({"stock": False}, "stock"),
            ({"valid_from": datetime(2026, 11, 3)}, "time zone"),
            ({"valid_until": datetime(2026, 12, 3)}, "time zone"),
            ({"valid_until": T0}, "after valid_from"),
            ({"valid_until": T0 - timedelta(days=1)}, "after valid_from"),
            ({"book": "guangzhou"}, "book"),
        ],
    )
    def test_bad_terms_are_refused_naming_the_field(self, change, named):
        with pytest.raises(InvalidOffer, match=named):
            check_terms(**{**GOOD, **change})

    def test_the_first_bad_field_is_the_one_named(self):
        with pytest.raises(InvalidOffer, match="price_points"):
            check_terms(0, -1, 0, T0, T0, "nowhere")
        with pytest.raises(InvalidOffer, match="per_citizen_limit"):
            check_terms(1, -1, 0, T0, T0, "nowhere")
        with pytest.raises(InvalidOffer, match="stock"):
            check_terms(1, -1, 1, T0, T0, "nowhere")
        with pytest.raises(InvalidOffer, match="after valid_from"):
            check_terms(1, 0, 1, T0, T0, "nowhere")


def terms(**change: object) -> OfferTerms:
    base = {
        "price_points": 100,
        "stock_left": 5,
        "per_citizen_limit": 2,
        "valid_from": T0,
        "valid_until": T0 + timedelta(days=1),
        "status": "active",
    }
    return OfferTerms(**{**base, **change})


# check_reservable's refusals in precedence order: the offer itself, then the citizen, then stock.
PRECEDENCE = (OfferUnavailable, OfferOutOfWindow, OverLimit, InsufficientPoints, OutOfStock)


class TestReservable:
    def test_an_active_offer_in_window_with_stock_is_reservable_by_one_who_can_pay(self):
        check_reservable(terms(), T0, taken_by_citizen=1, available=100)

    def test_the_window_includes_its_start_and_excludes_its_end(self):
        check_reservable(terms(), T0, 0, 100)
        check_reservable(terms(), T0 + timedelta(days=1, microseconds=-1), 0, 100)
        for now in (T0 - timedelta(microseconds=1), T0 + timedelta(days=1)):
            with pytest.raises(OfferOutOfWindow):
                check_reservable(terms(), now, 0, 100)

    @relaxed
    @given(
        status=st.sampled_from(["active", "paused", "retired"]),
        when=st.sampled_from(["before", "in", "at-end", "after"]),
        taken=st.integers(0, 4),
        available=st.integers(0, 300),
        stock=st.integers(-1, 3),
    )
    def test_the_first_failing_check_decides_the_refusal(self, status, when, taken, available, stock):
        now = {
            "before": T0 - timedelta(seconds=1),
            "in": T0 + timedelta(hours=1),
            "at-end": T0 + timedelta(days=1),
            "after": T0 + timedelta(days=9),
        }[when]
        failing = [
            status != "active",
            when != "in",
            taken >= 2,
            available < 100,
            stock <= 0,
        ]
        offer = terms(status=status, stock_left=stock)
        if not any(failing):
            check_reservable(offer, now, taken, available)
            return
        expected = PRECEDENCE[failing.index(True)]
        with pytest.raises(expected) as raised:
            check_reservable(offer, now, taken, available)
        assert type(raised.value) is expected

    def test_the_refusals_say_why_in_numbers(self):
        with pytest.raises(InsufficientPoints, match="costs 100 points; 99 are available"):
            check_reservable(terms(), T0, 0, 99)
        with pytest.raises(OverLimit, match="at most 2 per citizen"):
            check_reservable(terms(), T0, 2, 1000)
        with pytest.raises(OfferUnavailable, match="paused"):
            check_reservable(terms(status="paused"), T0, 0, 1000)


# Reversal --------------------------------------------------------------------------------------


class TestReversal:
    @pytest.mark.parametrize("window", [timedelta(seconds=1), timedelta(hours=24), timedelta(days=7)])
    def test_a_redemption_is_reversible_until_the_window_has_passed(self, window):
        check_reversible(T0, T0, window)
        check_reversible(T0, T0 + window - timedelta(microseconds=1), window)
        for now in (T0 + window, T0 + window + timedelta(days=1)):
            with pytest.raises(ReversalWindowClosed, match=re.escape((T0 + window).isoformat())):
                check_reversible(T0, now, window)

    def test_a_zero_window_allows_no_reversal(self):
        with pytest.raises(ReversalWindowClosed):
            check_reversible(T0, T0, timedelta(0))


# Statements ------------------------------------------------------------------------------------

DAY = date(2026, 11, 3)


def line(kind: str, points: int, minute: int, tx: str) -> StatementLine:
    signed = points if kind == "redemption" else -points
    return StatementLine(
        T0 + timedelta(minutes=minute), kind, f"r_{tx}", "o_tea", "s_chen", signed, f"tx_{tx}"
    )


lines_strategy = st.lists(
    st.builds(
        line,
        st.sampled_from(["redemption", "reversal"]),
        st.integers(1, 10_000),
        st.integers(0, 1439),
        st.text("0123456789abcdef", min_size=8, max_size=8),
    ),
    max_size=30,
)


class TestStatements:
    def test_a_day_of_lines(self):
        lines = [
            line("redemption", 100, 30, "b"),
            line("reversal", 40, 10, "c"),
            line("redemption", 70, 10, "a"),
        ]
        s = statement("m_tea", DAY, 500, lines)
        assert [x.tx_id for x in s.lines] == ["tx_a", "tx_c", "tx_b"]  # by time, then tx_id
        assert (s.opening, s.redeemed, s.reversed, s.net, s.closing) == (500, 170, 40, 130, 630)
        assert reconcile(s, 130, 630).reconciled

    @relaxed
    @given(st.integers(0, 10**9), lines_strategy)
    def test_closing_is_opening_plus_redeemed_less_reversed(self, opening, lines):
        s = statement("m_tea", DAY, opening, lines)
        assert sorted(s.lines, key=lambda x: (x.at, x.tx_id)) == list(s.lines)
        assert s.redeemed == sum(x.points for x in lines if x.kind == "redemption") >= 0
        assert s.reversed == -sum(x.points for x in lines if x.kind == "reversal") >= 0
        assert s.net == sum(x.points for x in lines)
        assert s.closing == opening + s.net

    @relaxed
    @given(st.integers(0, 10**9), lines_strategy)
    def test_a_statement_agreeing_with_the_ledger_reconciles(self, opening, lines):
        s = statement("m_tea", DAY, opening, lines)
        check = reconcile(s, s.net, s.closing)
        assert check.reconciled and check.findings == ()
        assert (check.ledger_net, check.ledger_closing) == (s.net, s.closing)

    @relaxed
    @given(
        st.integers(0, 10**9),
        lines_strategy,
        st.integers(-1000, 1000).filter(bool),
        st.sampled_from(["net", "closing", "both"]),
    )
    def test_any_disagreement_with_the_ledger_is_a_finding(self, opening, lines, delta, which):
        s = statement("m_tea", DAY, opening, lines)
        net = s.net + (delta if which in ("net", "both") else 0)
        closing = s.closing + (delta if which in ("closing", "both") else 0)
        check = reconcile(s, net, closing)
        assert not check.reconciled
        assert len(check.findings) == (2 if which == "both" else 1)
        if which != "closing":
            assert f"the lines add up to {s.net} points; the ledger moved {net}" in check.findings
        if which != "net":
            assert f"the statement closes at {s.closing} points; the ledger at {closing}" in check.findings

    @pytest.mark.parametrize(
        "bad",
        [
            StatementLine(T0, "redemption", "r_x", "o_tea", "s_chen", -5, "tx_x"),
            StatementLine(T0, "redemption", "r_x", "o_tea", "s_chen", 0, "tx_x"),
            StatementLine(T0, "reversal", "r_x", "o_tea", "s_chen", 5, "tx_x"),
        ],
    )
    def test_a_line_of_the_wrong_sign_is_a_finding_even_when_the_sums_agree(self, bad):
        s = statement("m_tea", DAY, 0, [bad])
        check = reconcile(s, s.net, s.closing)
        assert check.findings == ("a redemption line takes points or a reversal line gives them",)
