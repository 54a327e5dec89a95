"""The bench's own PostgreSQL databases: created fresh (or cloned from a template), counted, dropped.

The configured TANHUI_DATABASE_URL names the server (its database is only used to run CREATE and
DROP DATABASE); the benchmark never writes into it. Every name starts with `tanhui_bench_`.
"""

from __future__ import annotations

import secrets
import time
from datetime import date, datetime
from typing import Any

import psycopg
from psycopg import sql
from sqlalchemy.engine import URL, make_url

from backend.bench.errors import BadOptions
from backend.bench.stats import LedgerFigures
from backend.migrate import upgrade
from points_engine.ledger.accounts import Account

# `citizen:<id>:pending`, the string form of points_engine.ledger.accounts.Account.pending(<id>)
PENDING_PATTERN = str(Account.pending("ID")).replace("ID", "%")
TEMPLATE_PREFIX = "tanhui_bench_tpl_"


class BenchDatabase:
    """One database of the bench next to the configured one."""

    def __init__(self, server_url: str, name: str) -> None:
        url = make_url(server_url)
        if url.get_backend_name() != "postgresql":
            raise BadOptions(f"the benchmark needs PostgreSQL; TANHUI_DATABASE_URL is {url.drivername!r}")
        self.name = name
        self._server = url
        self.url = url.set(database=name).render_as_string(hide_password=False)
        self.where = f"{url.host or 'localhost'}:{url.port or 5432}/{name}"

    @classmethod
    def for_run(cls, server_url: str, now: datetime) -> BenchDatabase:
        return cls(server_url, f"tanhui_bench_{now:%Y%m%d_%H%M%S}_{secrets.token_hex(2)}")

    def template_for(self, key: str, day: date) -> BenchDatabase:
        """The template database of a bound population: named for its first simulated day and key."""
        return self.sibling(f"{TEMPLATE_PREFIX}{day:%Y%m%d}_{key[:12]}")

    def sibling(self, name: str) -> BenchDatabase:
        return BenchDatabase(self._server.render_as_string(hide_password=False), name)

    def exists(self) -> bool:
        with self._admin() as conn:
            found = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (self.name,)).fetchone()
        return found is not None

    def create(self, template: BenchDatabase | None = None) -> None:
        """Create the database (a copy of `template`, if given), then bring it to the newest schema."""
        statement = sql.SQL("CREATE DATABASE {}").format(sql.Identifier(self.name))
        if template is not None:
            statement += sql.SQL(" TEMPLATE {}").format(sql.Identifier(template.name))
        for attempt in range(5):  # a template being copied by another bench run is busy for a moment
            try:
                with self._admin() as conn:
                    conn.execute(statement)
                break
            except psycopg.errors.ObjectInUse:
                if attempt == 4:
                    raise
                time.sleep(1 + attempt)
        upgrade(self.url)

    def drop(self) -> None:
        with self._admin() as conn:
            conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(self.name)))

    def drop_templates_before(self, day: date) -> list[str]:
        """Drop the bench templates of populations whose days began before `day` (their actions
        have left the API's 7-day window, so no run can use them); their names."""
        with self._admin() as conn:
            rows = conn.execute(
                "SELECT datname FROM pg_database WHERE datname LIKE %s",
                (TEMPLATE_PREFIX.replace("_", r"\_") + "%",),
            ).fetchall()
        stale = [name for (name,) in rows if name[len(TEMPLATE_PREFIX) :][:8] < f"{day:%Y%m%d}"]
        for name in stale:
            self.sibling(name).drop()
        return stale

    def connect(self) -> psycopg.Connection[Any]:
        return psycopg.connect(_libpq(self._server.set(database=self.name)), autocommit=True)

    def _admin(self) -> psycopg.Connection[Any]:
        return psycopg.connect(_libpq(self._server), autocommit=True)


def _libpq(url: URL) -> str:
    """A SQLAlchemy URL (postgresql+psycopg://…) as libpq takes it (postgresql://…)."""
    return url.set(drivername="postgresql").render_as_string(hide_password=False)


def _scalar(conn: psycopg.Connection[Any], query: str, *params: Any) -> int | None:
    """An integer answer, or None when the table it reads does not exist (yet)."""
    try:
        row = conn.execute(query, params or None).fetchone()
    except psycopg.errors.UndefinedTable:
        return None
    return None if row is None or row[0] is None else int(row[0])


def count_outcomes(conn: psycopg.Connection[Any]) -> int | None:
    """Settled actions so far; None while there is no outcomes table."""
    return _scalar(conn, "SELECT count(*) FROM outcomes")


def outcomes_fenced(conn: psycopg.Connection[Any]) -> int | None:
    """Settled actions so far, read from the partitions' sequence numbers: every outcome is written
    in the transaction that reserved its number (``repository.fence``), so in any snapshot the sum
    equals ``count_outcomes``. Eight rows instead of a count over every outcome (~7 ms at 100,000),
    so the wait can poll often. None while there is no partitions table."""
    return _scalar(conn, "SELECT coalesce(sum(seq), 0) FROM settlement_partitions")


def ledger_figures(conn: psycopg.Connection[Any]) -> LedgerFigures:
    """The counts and sums the reconciliation compares."""
    return LedgerFigures(
        actions_rows=_scalar(conn, "SELECT count(*) FROM actions"),
        outcomes_rows=count_outcomes(conn),
        outcomes_without_action=_scalar(
            conn,
            "SELECT count(*) FROM outcomes o WHERE NOT EXISTS "
            "(SELECT 1 FROM actions a WHERE a.partner_id = o.partner_id AND a.event_id = o.event_id)",
        ),
        points_in_outcomes=_scalar(conn, "SELECT coalesce(sum(points), 0) FROM outcomes"),
        citizen_pending_balance=_scalar(
            conn,
            "SELECT coalesce(sum(balance), 0) FROM ledger_balances WHERE account LIKE %s",
            PENDING_PATTERN,
        ),
        ledger_balance_total=_scalar(conn, "SELECT coalesce(sum(balance), 0) FROM ledger_balances"),
    )
