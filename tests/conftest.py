"""Test wiring: real databases and a real Redis, chosen by TANHUI_TEST_BACKEND.

- ``postgres`` (default): PostgreSQL at TANHUI_TEST_PG (a fresh database per run, migrated by
  Alembic) and Redis at TANHUI_TEST_REDIS_URL (a key prefix per run).
- ``embedded``: a SQLite file and the embedded Redis server the platform starts itself.

Every test starts from empty tables and no Redis keys of this run.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import psycopg
import pytest
from sqlmodel import SQLModel

from backend.app import create_app
from backend.context import Platform
from backend.migrate import upgrade
from backend.settings import Settings

BACKEND = os.environ.get("TANHUI_TEST_BACKEND", "postgres")
PG_ADMIN = os.environ.get("TANHUI_TEST_PG", "postgresql://postgres@127.0.0.1:5432/test")
REDIS_URL = os.environ.get("TANHUI_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
BASE_URL = "http://tanhui.test"


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        for layer in ("unit", "integration", "e2e"):
            if f"/tests/{layer}/" in str(item.path):
                item.add_marker(getattr(pytest.mark, layer))


@pytest.fixture(scope="session")
def database_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    if BACKEND == "embedded":
        path = tmp_path_factory.mktemp("db") / "tanhui.db"
        url = f"sqlite+aiosqlite:///{path}"
        upgrade(url)
        yield url
        return
    name = f"tanhui_test_{os.getpid()}_{secrets.token_hex(3)}"
    with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    url = PG_ADMIN.rsplit("/", 1)[0].replace("postgresql://", "postgresql+psycopg://") + f"/{name}"
    upgrade(url)
    yield url
    with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(scope="session")
def settings(database_url: str, tmp_path_factory: pytest.TempPathFactory) -> Settings:
    var_dir: Path = tmp_path_factory.mktemp("var")
    return Settings(
        var_dir=var_dir,
        database_url=database_url,
        redis_url="" if BACKEND == "embedded" else REDIS_URL,
        redis_prefix=f"tanhui_test_{secrets.token_hex(4)}",
        secret_key="test-secret-key",
        pii_key="test-pii-key",
        jwt_key="test-jwt-key-of-at-least-32-bytes!!",
        workers=False,
    )


@pytest.fixture(scope="session")
async def platform(settings: Settings) -> AsyncIterator[Platform]:
    p = await Platform.open(settings)
    yield p
    await _clear_redis(p)
    await p.close()


async def _clear_redis(p: Platform) -> None:
    keys = [k async for k in p.redis.scan_iter(match=f"{p.settings.redis_prefix}:*", count=1000)]
    if keys:
        await p.redis.delete(*keys)


@pytest.fixture(autouse=True)
async def clean_state(request: pytest.FixtureRequest) -> None:
    """Empty tables and this run's Redis keys before each test that uses the platform."""
    if "platform" not in request.fixturenames:
        return
    p: Platform = request.getfixturevalue("platform")
    await _clear_redis(p)
    tables = [t.name for t in reversed(SQLModel.metadata.sorted_tables)]
    async with p.db.transaction() as tx:
        if p.db.is_sqlite:
            for name in tables:
                await tx.conn.exec_driver_sql(f'DELETE FROM "{name}"')
        else:
            # audit_log's append-only trigger refuses TRUNCATE; replica mode skips triggers (superuser).
            await tx.conn.exec_driver_sql("SET LOCAL session_replication_role = replica")
            await tx.conn.exec_driver_sql("TRUNCATE " + ", ".join(f'"{t}"' for t in tables) + " CASCADE")


@pytest.fixture
async def app(platform: Platform):  # type: ignore[no-untyped-def]
    return create_app(platform=platform)


@pytest.fixture
async def http(app) -> AsyncIterator[httpx.AsyncClient]:  # type: ignore[no-untyped-def]
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=BASE_URL) as client:
        yield client
