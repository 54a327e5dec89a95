"""What replaces a deleted citizen's identifiers: a random tombstone for the mobile hash, and a keyed
pseudonym for each of the partners' user ids."""

from __future__ import annotations

import secrets

from backend.crypto import keyed_hash

TOMBSTONE_PREFIX = "deleted:"
PSEUDONYM_PREFIX = "del_"
_WIDTH = 64  # citizens.mobile_hash, bindings.user and actions.user are all varchar(64)


def tombstone() -> str:
    """A unique, unguessable stand-in for a mobile hash. Random, not derived: nothing can recompute
    it from the number, and a mobile hash (64 hex digits) never starts with ``deleted:``."""
    return TOMBSTONE_PREFIX + secrets.token_hex((_WIDTH - len(TOMBSTONE_PREFIX)) // 2)


def user_pseudonym(pii_key: str, citizen_id: str, partner_id: str, user: str) -> str:
    """The keyed hash standing in for ``user`` of ``partner_id`` once ``citizen_id`` is deleted.

    Keyed (the PII key), so a dump of the database does not let anyone test guessed user ids; the
    citizen id is in the input because a user may bind again after deletion and be deleted again,
    and (partner, pseudonym) must stay a unique key of ``bindings``."""
    digest = keyed_hash(pii_key, "\x1f".join(("user-pseudonym", citizen_id, partner_id, user)))
    return PSEUDONYM_PREFIX + digest[: _WIDTH - len(PSEUDONYM_PREFIX)]
