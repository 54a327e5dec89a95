"""backend.privacy.pseudonyms: what replaces a deleted citizen's mobile hash and partner user ids."""

from __future__ import annotations

import re

from hypothesis import given
from hypothesis import strategies as st

from backend.crypto import keyed_hash
from backend.privacy.pseudonyms import tombstone, user_pseudonym

# As stored: any text but U+0000 (PostgreSQL cannot store it) and lone surrogates (UTF-8 cannot).
USER = st.text(
    st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"), min_size=1, max_size=64
)
PARTNER = st.from_regex(r"[a-z0-9_]{3,32}", fullmatch=True)
CITIZEN = st.from_regex(r"c_[0-9a-z]{26}", fullmatch=True)


class TestUserPseudonym:
    @given(CITIZEN, PARTNER, USER)
    def test_a_pseudonym_fits_the_user_columns_and_is_stable(self, citizen, partner, user):
        pseudonym = user_pseudonym("key", citizen, partner, user)
        assert re.fullmatch(r"del_[0-9a-f]{60}", pseudonym)
        assert pseudonym == user_pseudonym("key", citizen, partner, user)

    @given(CITIZEN, PARTNER, USER, st.data())
    def test_any_other_input_or_key_gives_another_pseudonym(self, citizen, partner, user, data):
        other = data.draw(
            st.tuples(st.just("key"), CITIZEN, PARTNER, USER)
            | st.tuples(st.just("another key"), *(st.just(v) for v in (citizen, partner, user)))
        )
        if other != ("key", citizen, partner, user):
            assert user_pseudonym(*other) != user_pseudonym("key", citizen, partner, user)

    @given(CITIZEN, USER)
    def test_the_same_user_deleted_twice_as_two_citizens_gets_two_pseudonyms(self, citizen, user):
        again = citizen[:-1] + ("a" if citizen[-1] != "a" else "b")
        assert user_pseudonym("k", citizen, "bike_st", user) != user_pseudonym("k", again, "bike_st", user)

    @given(USER)
    def test_a_pseudonym_is_not_the_mobile_style_hash_of_the_user(self, user):
        assert user_pseudonym("k", "c_x", "bike_st", user)[4:] != keyed_hash("k", user)[:60]


class TestTombstone:
    def test_a_tombstone_fills_the_column_and_can_never_be_a_mobile_hash(self):
        stone = tombstone()
        assert len(stone) == 64 and stone.startswith("deleted:")
        assert not re.fullmatch(r"[0-9a-f]{64}", stone)

    def test_every_tombstone_is_new(self):
        assert len({tombstone() for _ in range(1000)}) == 1000
