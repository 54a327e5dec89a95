"""When every database connection stays busy, a request is shed with 503 `overloaded` and a
Retry-After, never a 500, and nothing is written."""

from __future__ import annotations

import time

import httpx
import pytest

from backend.app import create_app
from backend.context import Platform
from backend.settings import Settings

pytestmark = pytest.mark.e2e


async def test_a_request_that_cannot_get_a_connection_is_a_503_with_retry_after(settings: Settings) -> None:
    if settings.is_sqlite:
        pytest.skip("SQLite has no connection pool to exhaust")
    tight = settings.model_copy(update={"db_pool_size": 1, "db_max_overflow": 0, "db_pool_timeout_s": 0.2})
    platform = await Platform.open(tight)
    try:
        app = create_app(platform=platform)
        token = platform.tokens.mint("c_busy", "citizen", 900, int(time.time()))
        async with (
            platform.db.read() as held,  # the pool's only connection, kept busy
            httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as http,
        ):
            await held.exec_driver_sql("SELECT 1")
            response = await http.get("/v1/citizen/offers", headers={"authorization": f"Bearer {token}"})
        assert response.status_code == 503
        assert response.headers["retry-after"] == "1"
        assert response.headers["content-type"] == "application/problem+json"
        assert response.json()["type"] == "https://tanhui.example/problems/overloaded"
        assert response.headers["x-request-id"]
    finally:
        await platform.close()


async def test_the_redemption_hot_path_sheds_load_the_same_way(settings: Settings) -> None:
    if settings.is_sqlite:
        pytest.skip("the hot path (raw psycopg) is PostgreSQL's")
    tight = settings.model_copy(update={"db_pool_size": 1, "db_pool_timeout_s": 0.2})
    platform = await Platform.open(tight)
    assert platform.pg is not None
    try:
        app = create_app(platform=platform)
        token = platform.tokens.mint("c_busy", "citizen", 900, int(time.time()))
        async with (
            platform.pg.transaction() as held,  # the hot pool's only connection, kept busy
            httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as http,
        ):
            await held.execute("SELECT 1")
            response = await http.post(
                "/v1/citizen/reservations",
                json={"offer_id": "o_any"},
                headers={"authorization": f"Bearer {token}"},
            )
        assert response.status_code == 503
        assert response.headers["retry-after"] == "1"
        assert response.json()["type"] == "https://tanhui.example/problems/overloaded"
    finally:
        await platform.close()
