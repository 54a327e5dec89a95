"""The methodology catalog in force: the bundled versions plus every version published since.

Publishing appends a row to ``methodology_versions`` and, after the commit, sets a new generation
token in Redis. Every process keeps the catalog in memory and checks that token once per call, so a
version published on one process is used by every other on its next call. A version takes effect
only after ``MIN_LEAD``, so no action already accepted (whose ``occurred_at`` may lie up to 300 s
ahead) and no outcome already settled is ever priced by it.
"""

from __future__ import annotations

import hashlib
import json
import secrets
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from backend import audit
from backend.db import Database, Tx
from backend.errors import (
    AppError,
    InvalidMethodology,
    InvalidRequest,
    MethodologyExists,
    MethodologyNotFound,
)
from backend.models import PublishedMethodology
from backend.redis import Keys
from backend.redis_hot import HotRedis
from points_engine.intake import contains_nul
from points_engine.methodologies import (
    Catalog,
    InvalidMethodologyVersion,
    MethodologyVersion,
    default_catalog,
)

# Intake accepts an occurred_at up to 300 s ahead (Settings.max_action_future_s), and a process whose
# generation bump was lost reloads within MAX_AGE: a version starting later than both changes no
# price already given.
MIN_LEAD = timedelta(minutes=10)
# A safety net only: normally the generation token tells a process to reload at once.
MAX_AGE_S = 60.0
_VERSION_MAX_LEN = 16  # the column's width
_PUBLISHER_MAX_LEN = 64

Source = Literal["bundled", "published"]


@dataclass(frozen=True, slots=True)
class MethodologyEntry:
    """A version of the catalog and where it comes from (``published_*`` only for published ones)."""

    version: MethodologyVersion
    source: Source
    published_at: datetime | None = None
    published_by: str | None = None


@dataclass(frozen=True, slots=True)
class _Snapshot:
    generation: str | None
    loaded_at: float
    catalog: Catalog
    entries: tuple[MethodologyEntry, ...]


class MethodologyRegistry:
    """The catalog in force, cached per process and revalidated with one Redis GET per call."""

    def __init__(
        self,
        db: Database,
        redis: HotRedis,
        keys: Keys,
        *,
        min_lead: timedelta = MIN_LEAD,
        max_age_s: float = MAX_AGE_S,
    ) -> None:
        self._db, self._redis = db, redis
        self._key = f"{keys.prefix}:methodologies:generation"
        self._min_lead, self._max_age_s = min_lead, max_age_s
        self._snapshot: _Snapshot | None = None

    async def catalog(self) -> Catalog:
        """The bundled and published versions in effective order: the catalog every price uses."""
        return (await self._current()).catalog

    async def versions(self) -> list[MethodologyEntry]:
        """Every version, oldest first, with its source."""
        return list((await self._current()).entries)

    async def get(self, name: str) -> MethodologyEntry:
        """The version named ``name``; MethodologyNotFound if there is none."""
        for entry in (await self._current()).entries:
            if entry.version.version == name:
                return entry
        raise MethodologyNotFound(f"no methodology version {name!r}")

    async def publish(self, document: Any, published_by: str, now: datetime) -> MethodologyVersion:
        """Append the version of ``document`` (the JSON form of ``versions/<version>.json``).

        It must be valid, newly named, start after the latest version and more than MIN_LEAD after
        ``now``, and price every key the latest prices. Stored and announced to every process on
        commit; nothing is stored otherwise (InvalidMethodology, MethodologyExists)."""
        if not 0 < len(published_by) <= _PUBLISHER_MAX_LEN or "\x00" in published_by:
            raise InvalidRequest(f"the publisher is named in 1 to {_PUBLISHER_MAX_LEN} characters")
        version = _parse(document)
        if version.effective_from <= now + self._min_lead:
            raise InvalidMethodology(
                f"effective_from must be more than {self._min_lead.total_seconds():.0f} s after now "
                f"({now.isoformat()}): actions already accepted keep the price they were given",
                version=version.version,
            )

        async def use_case(tx: Tx) -> None:
            await _lock_for_publishing(tx)
            catalog = _catalog_of(await _published_rows(tx.conn))
            _check_successor(catalog, version)
            await tx.conn.execute(
                PublishedMethodology.__table__.insert().values(  # type: ignore[attr-defined]
                    version=version.version,
                    effective_from=version.effective_from,
                    document=version.to_json(),
                    published_at=now,
                    published_by=published_by,
                )
            )
            tx.after_commit(self._bump)
            details = {
                "version": version.version,
                "effective_from": version.effective_from.isoformat(),
                "document_sha256": _document_hash(version.to_json()),
            }
            subject = f"methodology:{version.version}"
            await audit.record(tx, published_by, "methodology.published", subject, details)

        try:
            await self._db.run(use_case)
        except IntegrityError as exc:  # a concurrent publish of the same name won the race
            raise MethodologyExists(
                f"methodology version {version.version!r} exists", version=version.version
            ) from exc
        return version

    async def _bump(self) -> None:
        # A fresh token rather than INCR: a counter lost with Redis and restarted could repeat a
        # value some process still holds, a random token cannot.
        await self._redis.execute("SET", self._key, secrets.token_hex(8))

    async def _current(self) -> _Snapshot:
        raw: bytes | None = await self._redis.execute("GET", self._key)
        generation = None if raw is None else raw.decode()
        snapshot = self._snapshot
        if (
            snapshot is not None
            and generation is not None
            and generation == snapshot.generation
            and time.monotonic() - snapshot.loaded_at < self._max_age_s
        ):
            return snapshot
        if generation is None:
            # The token is gone (Redis flushed or restarted): start a new one before reading the
            # database, so a publish committed after the read still changes it.
            token = secrets.token_hex(8)
            generation = token if await self._redis.execute("SET", self._key, token, "NX") else None
        async with self._db.read() as conn:
            rows = await _published_rows(conn)
        entries = _entries_of(rows)
        catalog = Catalog(tuple(entry.version for entry in entries))
        snapshot = _Snapshot(generation, time.monotonic(), catalog, entries)
        self._snapshot = snapshot
        return snapshot


def _document_hash(document: Any) -> str:
    """SHA-256 of the stored document's canonical JSON: the audit event binds the factors too."""
    text = json.dumps(document, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(text.encode()).hexdigest()


def _parse(document: Any) -> MethodologyVersion:
    if contains_nul(document):  # PostgreSQL cannot store U+0000
        raise InvalidMethodology("the document contains U+0000")
    try:
        version = MethodologyVersion.from_json(document)
    except InvalidMethodologyVersion as exc:
        raise _invalid(str(exc), exc.version) from None
    if len(version.version) > _VERSION_MAX_LEN:
        raise InvalidMethodology(f"a version name has at most {_VERSION_MAX_LEN} characters")
    try:
        version.effective_from.astimezone(UTC)
    except OverflowError:
        raise InvalidMethodology("effective_from is out of range", version=version.version) from None
    return version


def _check_successor(catalog: Catalog, version: MethodologyVersion) -> None:
    if any(v.version == version.version for v in catalog.versions):
        raise MethodologyExists(f"methodology version {version.version!r} exists", version=version.version)
    try:
        catalog.with_version(version)
    except InvalidMethodologyVersion as exc:
        raise _invalid(str(exc), version.version) from None


def _invalid(detail: str, version: str | None) -> AppError:
    return InvalidMethodology(detail, **({"version": version} if version is not None else {}))


async def _lock_for_publishing(tx: Tx) -> None:
    # Publishers are checked against the versions they read: one at a time, readers unaffected.
    # (SQLite has one writer already.)
    if tx.conn.dialect.name == "postgresql":
        await tx.conn.exec_driver_sql("LOCK TABLE methodology_versions IN SHARE ROW EXCLUSIVE MODE")


async def _published_rows(conn: AsyncConnection) -> list[Any]:
    query = select(PublishedMethodology).order_by(PublishedMethodology.effective_from)  # type: ignore[arg-type]
    return list(await conn.execute(query))


def _catalog_of(rows: list[Any]) -> Catalog:
    """The bundled versions and the published ``rows``; Catalog checks the order and the keys."""
    return Catalog(tuple(entry.version for entry in _entries_of(rows)))


def _entries_of(rows: list[Any]) -> tuple[MethodologyEntry, ...]:
    bundled = [MethodologyEntry(v, "bundled") for v in default_catalog().versions]
    published = [
        MethodologyEntry(
            MethodologyVersion.from_json(row.document), "published", row.published_at, row.published_by
        )
        for row in rows
    ]
    return tuple(sorted([*bundled, *published], key=lambda e: e.version.effective_from))


class FactorDocument(BaseModel):
    """One factor as published: exact decimal text, unit, source, optional notes."""

    model_config = ConfigDict(extra="forbid")
    g_per_unit: str
    unit: str
    source: str
    notes: str | None = None


class MethodologyDocument(BaseModel):
    """A version as published (the shape of ``points_engine/methodologies/versions/2026.1.json``)."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "example": {
                "version": "2027.1",
                "effective_from": "2027-01-01T00:00:00+08:00",
                "points_per_gram": {"shantou": "1", "nanao": "1"},
                "factors": {"trip.bus": {"g_per_unit": "26.9", "unit": "passenger-km", "source": "…"}},
            }
        },
    )
    version: str
    effective_from: str
    points_per_gram: dict[str, str]
    factors: dict[str, FactorDocument]

    def as_json(self) -> dict[str, Any]:
        """The plain JSON form that ``MethodologyVersion.from_json`` reads."""
        return self.model_dump(exclude_none=True)
