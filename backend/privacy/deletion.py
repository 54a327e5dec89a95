"""Deleting a citizen's account by pseudonymisation (PIPL art. 47), keeping the ledger whole.

Nothing is deleted: outcomes, ledger transactions, certification runs and the audit log must
still add up and be verifiable. What identifies the person goes instead, in one transaction: the
mobile hash (a random tombstone, so the same number binds again as a new citizen), the partners'
user ids (keyed pseudonyms, in ``bindings`` and ``actions``) and every consent (withdrawn). The
available points are forfeited (expired into their books' expiry accounts); held points refuse the
deletion until the redemption ends. What stays is keyed by the bare ``citizen_id``, which nothing
links to a person any more (docs/privacy.md).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Table, select, update

from backend import audit
from backend.context import Platform
from backend.db import Database, Tx
from backend.errors import CitizenDeleted, InvalidRequest, NotFound, OpenReservations
from backend.expiry import movements as expiry_ledger
from backend.ledger_store import post
from backend.models import AcceptedAction, Binding, Citizen
from backend.privacy import balances as points
from backend.privacy.pseudonyms import tombstone, user_pseudonym
from points_engine.errors import InvariantViolation
from points_engine.expiry import outlook
from points_engine.ledger import Account, Transaction, expire_tx
from points_engine.regions import BOOKS

CITIZENS: Table = Citizen.__table__  # type: ignore[assignment]
BINDINGS: Table = Binding.__table__  # type: ignore[assignment]
ACTIONS: Table = AcceptedAction.__table__  # type: ignore[assignment]
FORFEIT_KEY = "deletion"


@dataclass(frozen=True, slots=True)
class Deletion:
    citizen_id: str
    deleted_at: datetime
    forfeited_points: int  # available points, moved to expiry:{book} of their lots
    pending_points: int  # left in the deleted citizen's pending account (docs/privacy.md)
    bindings: int  # partner user ids pseudonymised (their consents withdrawn)
    actions: int  # accepted actions whose user id was pseudonymised


async def ensure_not_deleted(db: Database, citizen_id: str) -> None:
    """CitizenDeleted if the citizen deleted their account (an unknown citizen passes: its routes
    answer for themselves)."""
    async with db.read() as conn:
        deleted_at = (
            await conn.execute(select(CITIZENS.c.deleted_at).where(CITIZENS.c.citizen_id == citizen_id))
        ).scalar_one_or_none()
    if deleted_at is not None:
        raise CitizenDeleted("this account was deleted; its tokens no longer work")


async def delete_citizen(platform: Platform, citizen_id: str, confirm: str) -> Deletion:
    """Delete the citizen's account. ``confirm`` must repeat their citizen_id (InvalidRequest);
    OpenReservations while points are held; CitizenDeleted if done already."""
    if confirm != citizen_id:
        raise InvalidRequest("/confirm: repeat your citizen_id to delete your account")
    pii_key = platform.pii_hash_key()
    months = platform.settings.points_validity_months

    async def use_case(tx: Tx) -> Deletion:
        await _lock_live_citizen(tx, citizen_id)
        # Locked: a reservation racing the deletion either commits first (and is seen as held) or
        # waits, then finds nothing available.
        balances = await points.balances(tx.conn, citizen_id, lock=True)
        if balances["held"] > 0:
            raise OpenReservations(
                f"{balances['held']} points are held by a reservation: redeem or cancel it first"
            )
        forfeited = balances["available"]
        if forfeited > 0:
            await post(tx.conn, await _forfeits(tx, citizen_id, forfeited, months), tx.started_at)
        await tx.conn.execute(
            update(CITIZENS)
            .where(CITIZENS.c.citizen_id == citizen_id)
            .values(mobile_hash=tombstone(), deleted_at=tx.started_at)
        )
        bindings, actions = await _pseudonymise(tx, pii_key, citizen_id)
        deletion = Deletion(citizen_id, tx.started_at, forfeited, balances["pending"], bindings, actions)
        subject = f"citizen:{citizen_id}"
        details = {
            "forfeited_points": forfeited,
            "pending_points": deletion.pending_points,
            "bindings": bindings,
            "actions": actions,
        }
        await audit.record(tx, subject, "citizen.deleted", subject, details)
        return deletion

    result: Deletion = await platform.db.run(use_case)
    return result


async def _lock_live_citizen(tx: Tx, citizen_id: str) -> None:
    # The row lock makes a second, concurrent deletion wait, then see deleted_at.
    row = (
        await tx.conn.execute(
            select(CITIZENS.c.deleted_at).where(CITIZENS.c.citizen_id == citizen_id).with_for_update()
        )
    ).first()
    if row is None:
        raise NotFound(f"no citizen {citizen_id!r}")
    if row.deleted_at is not None:
        raise CitizenDeleted("this account was deleted already")


async def _forfeits(tx: Tx, citizen_id: str, available: int, months: int) -> list[Transaction]:
    """The available points expired now, each into the expiry account of its lot's book, as the
    expiry sweep would (docs/expiry.md): one account for all would take Nan'ao's points into the
    city's book, and break the sweep's replay should points arrive in the account later."""
    account = str(Account.available(citizen_id))
    history = (await expiry_ledger.movements(tx.conn, [account]))[account]
    # Seen from after every lot's validity has ended, all that the lots still hold is due.
    beyond = tx.started_at + timedelta(days=31 * months + 2)
    by_book = outlook(history, beyond, months).due
    if sum(by_book.values()) != available:
        raise InvariantViolation(f"{account}: lots hold {dict(by_book)}, the balance is {available}")
    return [expire_tx(b, citizen_id, f"{FORFEIT_KEY}/{b}", by_book[b]) for b in BOOKS if by_book.get(b)]


async def _pseudonymise(tx: Tx, pii_key: str, citizen_id: str) -> tuple[int, int]:
    """Every consent of the citizen withdrawn, every (partner, user) of theirs in bindings and in
    actions replaced by its pseudonym. How many bindings and actions changed."""
    b, a = BINDINGS.c, ACTIONS.c
    await tx.conn.execute(
        update(BINDINGS)
        .where(b.citizen_id == citizen_id, b.consent_withdrawn_at.is_(None))
        .values(consent_withdrawn_at=tx.started_at)
    )
    bound = await tx.conn.execute(select(b.partner_id, b.user).where(b.citizen_id == citizen_id))
    # actions.citizen_id is indexed: the citizen's actions are found without scanning the table.
    reported = await tx.conn.execute(
        select(a.partner_id, a.user).where(a.citizen_id == citizen_id).distinct()
    )
    users = {(p, u) for p, u in bound} | {(p, u) for p, u in reported}
    bindings = actions = 0
    for partner_id, user in sorted(users):
        pseudonym = user_pseudonym(pii_key, citizen_id, partner_id, user)
        bindings += (
            await tx.conn.execute(
                update(BINDINGS)
                .where(b.partner_id == partner_id, b.user == user, b.citizen_id == citizen_id)
                .values(user=pseudonym)
            )
        ).rowcount
        actions += (
            await tx.conn.execute(
                update(ACTIONS)
                .where(a.citizen_id == citizen_id, a.partner_id == partner_id, a.user == user)
                .values(user=pseudonym)
            )
        ).rowcount
    return bindings, actions
