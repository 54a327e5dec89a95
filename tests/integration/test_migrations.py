"""The Alembic migrations build exactly the schema the models declare, on PostgreSQL and SQLite.

The session's ``database_url`` was created empty and brought to head by ``backend.migrate.upgrade``;
autogenerate's comparison must then find nothing to do.
"""

from __future__ import annotations

from typing import Any

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Column, MetaData, String, inspect
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import create_async_engine
from sqlmodel import SQLModel

import backend.models  # noqa: F401  (registers every table on SQLModel.metadata)
from backend.migrate import alembic_config, upgrade


async def _on_migrated_database(database_url: str, inspect_with: Any) -> Any:
    engine = create_async_engine(database_url)
    try:
        async with engine.connect() as conn:
            return await conn.run_sync(inspect_with)
    finally:
        await engine.dispose()


def _differences(conn: Connection, metadata: MetaData = SQLModel.metadata) -> list[Any]:
    # Nothing is filtered out: neither PostgreSQL nor SQLite reports a spurious difference today.
    context = MigrationContext.configure(conn, opts={"compare_type": True, "compare_server_default": True})
    return list(compare_metadata(context, metadata))


class TestMigrations:
    async def test_the_migrated_schema_matches_the_models(self, database_url):
        differences = await _on_migrated_database(database_url, _differences)
        assert differences == []

    async def test_the_comparison_would_see_a_column_the_migrations_lack(self, database_url):
        """Guards the test above against comparing nothing."""
        models = MetaData()
        for table in SQLModel.metadata.sorted_tables:
            table.to_metadata(models)
        models.tables["citizens"].append_column(Column("nickname", String(40)))

        differences = await _on_migrated_database(database_url, lambda conn: _differences(conn, models))
        assert [(d[0], d[2], d[3].name) for d in differences] == [("add_column", "citizens", "nickname")]

    async def test_the_database_is_at_the_newest_revision(self, database_url):
        head = ScriptDirectory.from_config(alembic_config(database_url)).get_current_head()

        def current(conn: Connection) -> str | None:
            return MigrationContext.configure(conn).get_current_revision()

        assert await _on_migrated_database(database_url, current) == head

    async def test_every_model_table_exists_with_its_indexes(self, database_url):
        def tables_and_indexes(conn: Connection) -> dict[str, set[str]]:
            inspector = inspect(conn)
            return {t: {i["name"] for i in inspector.get_indexes(t)} for t in inspector.get_table_names()}

        found = await _on_migrated_database(database_url, tables_and_indexes)
        for table in SQLModel.metadata.sorted_tables:
            assert table.name in found
            assert {i.name for i in table.indexes} <= found[table.name], table.name

    def test_upgrading_an_up_to_date_database_again_is_safe(self, database_url):
        upgrade(database_url)  # runs its own event loop: this test is synchronous on purpose
