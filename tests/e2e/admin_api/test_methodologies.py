"""/v1/admin/methodologies and ``tanhui methodology``: administrators publish a new methodology version
with a future effective date; it is appended to the catalog that every process prices with, and
nothing already priced changes. A refused version stores nothing."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import insert

from backend.context import Platform
from backend.errors import InvalidMethodology, MethodologyExists
from backend.methodologies import MethodologyRegistry
from backend.models import PublishedMethodology
from points_engine.methodologies import MethodologyVersion, default_catalog
from tests.e2e.admin_api.test_partners import CALLERS, bearer
from tests.e2e.partner_api.test_signing import assert_problem, count_rows
from tests.e2e.test_cli import as_json, tanhui

ADMIN_URL = "/v1/admin/methodologies"
SHANGHAI = timezone(timedelta(hours=8))


def effective(days: float = 30, *, after: datetime | None = None) -> str:
    """An effective_from ``days`` from now (or from ``after``) in +08:00, in canonical form."""
    start = after or datetime.now(UTC)
    return (start + timedelta(days=days)).astimezone(SHANGHAI).replace(microsecond=0).isoformat()


def document(version: str = "2026.2", effective_from: str | None = None, **changes: Any) -> dict[str, Any]:
    """The bundled 2026.1 document renamed and re-dated; ``factors``/``points_per_gram`` replaced if given."""
    doc = default_catalog().get("2026.1").to_json()
    return {**doc, "version": version, "effective_from": effective_from or effective(), **changes}


def with_factor(doc: dict[str, Any], key: str, factor: dict[str, str] | None) -> dict[str, Any]:
    """``doc`` with ``key`` priced by ``factor`` (or dropped, given None)."""
    factors = {k: v for k, v in doc["factors"].items() if k != key}
    if factor is not None:
        factors[key] = factor
    return {**doc, "factors": factors}


FERRY = {"g_per_unit": "20", "unit": "passenger-km", "source": "A test source"}


@pytest.fixture
def registry(platform: Platform) -> MethodologyRegistry:
    return platform.methodologies


@pytest.fixture
def admin(platform: Platform) -> dict[str, str]:
    return bearer(platform)


async def publish(http: httpx.AsyncClient, headers: dict[str, str], doc: dict[str, Any]) -> httpx.Response:
    return await http.post(ADMIN_URL, json=doc, headers=headers)


class TestPublish:
    async def test_an_admin_publishes_a_version_and_it_is_listed_after_the_bundled_one(
        self, http, admin, platform
    ):
        # given
        starts = effective(30)
        # when
        response = await publish(http, admin, document("2026.2", starts))
        # then
        assert response.status_code == 201, response.text
        summary = response.json()
        assert summary["version"] == "2026.2" and summary["effective_from"] == starts
        assert summary["source"] == "published" and summary["published_by"] == "op_admin"
        assert datetime.fromisoformat(summary["published_at"]) <= datetime.now(UTC)
        listing = (await http.get(ADMIN_URL, headers=admin)).json()
        assert [(v["version"], v["source"]) for v in listing] == [
            ("2026.1", "bundled"),
            ("2026.2", "published"),
        ]
        assert listing[0]["published_at"] is None and listing[0]["published_by"] is None
        assert listing[1] == summary
        assert await count_rows(platform, "methodology_versions") == 1

    async def test_the_new_version_prices_actions_from_its_effective_date_on(self, http, admin, registry):
        # given
        starts = effective(30)
        doc = with_factor(document("2026.2", starts), "trip.bus", {**FERRY, "g_per_unit": "30"})
        # when
        assert (await publish(http, admin, doc)).status_code == 201
        # then
        catalog = await registry.catalog()
        moment = datetime.fromisoformat(starts)
        assert catalog.in_force(moment - timedelta(microseconds=1)).version == "2026.1"
        assert catalog.in_force(moment).version == "2026.2"
        assert catalog.in_force(moment + timedelta(days=3650)).version == "2026.2"
        assert catalog.in_force(datetime.now(UTC)).version == "2026.1"  # nothing priced today changes
        assert catalog.in_force(moment).factor("trip.bus").reduction_g(1000) == 30

    async def test_versions_may_follow_one_another(self, http, admin, registry):
        second = effective(30)
        assert (await publish(http, admin, document("2026.2", second))).status_code == 201
        third = effective(1, after=datetime.fromisoformat(second))
        assert (
            await publish(http, admin, with_factor(document("2027.1", third), "trip.ferry", FERRY))
        ).status_code == 201
        catalog = await registry.catalog()
        assert [v.version for v in catalog.versions] == ["2026.1", "2026.2", "2027.1"]
        assert "trip.ferry" in catalog.in_force(datetime.fromisoformat(third)).keys

    @pytest.mark.parametrize(
        ("case", "days"),
        [
            ("yesterday", -1),
            ("now", 0),
            ("within the 300 s an action may lie ahead", 200 / 86400),
            ("within the lead of 10 minutes", 9 / 1440),
        ],
    )
    async def test_an_effective_date_that_is_not_far_enough_in_the_future_is_refused(
        self, http, admin, platform, case, days
    ):
        response = await publish(http, admin, document("2026.2", effective(days)))
        doc = assert_problem(response, 422, "invalid-methodology")
        assert "effective_from" in doc["detail"] and doc["version"] == "2026.2"
        assert await count_rows(platform, "methodology_versions") == 0

    async def test_a_version_starting_before_or_with_the_latest_is_refused(self, http, admin, platform):
        starts = effective(30)
        assert (await publish(http, admin, document("2026.2", starts))).status_code == 201
        for when in (effective(20), starts):
            assert_problem(await publish(http, admin, document("2026.3", when)), 422, "invalid-methodology")
        assert await count_rows(platform, "methodology_versions") == 1

    async def test_a_name_taken_already_is_a_conflict(self, http, admin, platform):
        assert (await publish(http, admin, document("2026.2", effective(30)))).status_code == 201
        assert_problem(
            await publish(http, admin, document("2026.2", effective(60))), 409, "methodology-exists"
        )
        assert_problem(
            await publish(http, admin, document("2026.1", effective(60))), 409, "methodology-exists"
        )
        assert await count_rows(platform, "methodology_versions") == 1

    async def test_a_version_that_drops_a_key_of_the_latest_is_refused(self, http, admin, platform):
        starts = effective(30)
        assert (
            await publish(http, admin, with_factor(document("2026.2", starts), "trip.ferry", FERRY))
        ).status_code == 201
        response = await publish(http, admin, document("2026.3", effective(60)))
        doc = assert_problem(response, 422, "invalid-methodology")
        assert "trip.ferry" in doc["detail"]
        assert await count_rows(platform, "methodology_versions") == 1

    async def test_the_stored_document_is_the_published_form(self, http, admin, platform, registry):
        doc = document("2026.2", effective(30))
        assert (await publish(http, admin, doc)).status_code == 201
        entry = await registry.get("2026.2")
        assert entry.version.to_json() == doc


BAD_DOCUMENTS = [
    ("a version name not of the form YYYY.N", lambda: document("v2")),
    ("a version name longer than 16 characters", lambda: document("2026.123456789012")),
    ("a missing required factor", lambda: with_factor(document(), "trip.bus", None)),
    ("a factor without a source", lambda: with_factor(document(), "trip.bus", {**FERRY, "source": " "})),
    (
        "a decimal not in canonical form",
        lambda: with_factor(document(), "trip.bus", {**FERRY, "g_per_unit": "26.90"}),
    ),
    ("a negative factor", lambda: with_factor(document(), "trip.bus", {**FERRY, "g_per_unit": "-1"})),
    ("a unit foreign to the key", lambda: with_factor(document(), "trip.bus", {**FERRY, "unit": "g"})),
    ("an unknown key family", lambda: with_factor(document(), "boat.ferry", FERRY)),
    (
        "the derived recyclable key",
        lambda: with_factor(document(), "waste.recyclable", {**FERRY, "unit": "g"}),
    ),
    ("a naive effective_from", lambda: document(effective_from=effective()[:-6])),
    (
        "an effective_from not in canonical form",
        lambda: document(effective_from=effective().replace("T", " ")),
    ),
    ("an effective_from that is not a time", lambda: document(effective_from="next month")),
    ("an effective_from out of range in UTC", lambda: document(effective_from="9999-12-31T23:00:00-08:00")),
    ("a book missing from points_per_gram", lambda: document(points_per_gram={"shantou": "1"})),
    ("an unknown book", lambda: document(points_per_gram={"shantou": "1", "nanao": "1", "beijing": "1"})),
    ("U+0000 in a source", lambda: with_factor(document(), "trip.bus", {**FERRY, "source": "a\u0000b"})),
]

BAD_SHAPES = [
    ("an extra field", lambda: {**document(), "approved": True}),
    ("a factor as a number", lambda: with_factor(document(), "trip.bus", {**FERRY, "g_per_unit": 26.9})),  # type: ignore[dict-item]
    ("no factors", lambda: {k: v for k, v in document().items() if k != "factors"}),
    ("a list", lambda: [document()]),
]


class TestRefusedDocuments:
    @pytest.mark.parametrize(("case", "make"), BAD_DOCUMENTS, ids=[b[0] for b in BAD_DOCUMENTS])
    async def test_a_version_that_may_not_be_published_is_refused(self, http, admin, platform, case, make):
        assert_problem(await publish(http, admin, make()), 422, "invalid-methodology")
        assert await count_rows(platform, "methodology_versions") == 0

    @pytest.mark.parametrize(("case", "make"), BAD_SHAPES, ids=[b[0] for b in BAD_SHAPES])
    async def test_a_body_not_shaped_as_a_version_is_an_invalid_request(
        self, http, admin, platform, case, make
    ):
        assert_problem(await publish(http, admin, make()), 422, "invalid-request")
        assert await count_rows(platform, "methodology_versions") == 0


ROUTES = [("GET", ADMIN_URL, None), ("POST", ADMIN_URL, "document")]


class TestAuthorisation:
    @pytest.mark.parametrize(("method", "path", "payload"), ROUTES, ids=[f"{r[0]} {r[1]}" for r in ROUTES])
    @pytest.mark.parametrize(("caller", "headers", "status", "code"), CALLERS, ids=[c[0] for c in CALLERS])
    async def test_only_an_admin_may_list_or_publish(
        self, http, platform, registry, method, path, payload, caller, headers, status, code
    ):
        body = document() if payload else None
        response = await http.request(method, path, json=body, headers=headers(platform))
        assert_problem(response, status, code)
        assert await count_rows(platform, "methodology_versions") == 0
        assert [v.version for v in (await registry.catalog()).versions] == ["2026.1"]


class TestAcrossProcesses:
    async def test_another_process_uses_a_version_on_its_next_call_after_it_is_published(
        self, http, admin, platform, registry
    ):
        """Two registries on the same database and Redis stand for two processes."""
        # given
        other = MethodologyRegistry(platform.db, platform.hot, platform.keys)
        assert [v.version for v in (await other.catalog()).versions] == ["2026.1"]
        # when
        assert (await publish(http, admin, document("2026.2", effective(30)))).status_code == 201
        # then
        assert [v.version for v in (await other.catalog()).versions] == ["2026.1", "2026.2"]

    async def test_the_database_is_read_only_when_the_generation_changes(
        self, platform, registry, monkeypatch
    ):
        import backend.methodologies as module

        loads: list[int] = []
        real = module._published_rows

        async def counted(conn: Any) -> list[Any]:
            loads.append(1)
            return await real(conn)

        other = MethodologyRegistry(platform.db, platform.hot, platform.keys)
        await other.catalog()
        monkeypatch.setattr(module, "_published_rows", counted)
        for _ in range(5):
            await other.catalog()
        assert loads == []
        await registry.publish(document("2026.2", effective(30)), "op_admin", datetime.now(UTC))
        loads.clear()  # the publish reads the versions in its own transaction
        await other.catalog()
        await other.catalog()
        assert len(loads) == 1

    async def test_a_lost_generation_makes_every_process_reload(self, platform):
        # given: a process that has its catalog, then a version it was not told about
        other = MethodologyRegistry(platform.db, platform.hot, platform.keys)
        await other.catalog()
        doc = document("2026.2", effective(30))
        async with platform.db.transaction() as tx:
            await tx.conn.execute(
                insert(PublishedMethodology).values(
                    version="2026.2",
                    effective_from=datetime.fromisoformat(doc["effective_from"]),
                    document=doc,
                    published_at=datetime.now(UTC),
                    published_by="op_admin",
                )
            )
        assert [v.version for v in (await other.catalog()).versions] == ["2026.1"]  # cached
        # when: Redis loses the generation
        await platform.redis.delete(f"{platform.keys.prefix}:methodologies:generation")
        # then
        assert [v.version for v in (await other.catalog()).versions] == ["2026.1", "2026.2"]

    async def test_concurrent_publishers_cannot_both_win(self, platform):
        one = MethodologyRegistry(platform.db, platform.hot, platform.keys)
        two = MethodologyRegistry(platform.db, platform.hot, platform.keys)
        now = datetime.now(UTC)
        starts = effective(30)
        results = await asyncio.gather(
            one.publish(document("2026.2", starts), "op_one", now),
            two.publish(document("2026.3", starts), "op_two", now),
            return_exceptions=True,
        )
        assert sum(isinstance(r, MethodologyVersion) for r in results) == 1
        assert sum(isinstance(r, InvalidMethodology) for r in results) == 1
        results = await asyncio.gather(
            one.publish(document("2026.4", effective(40)), "op_one", now),
            two.publish(document("2026.4", effective(50)), "op_two", now),
            return_exceptions=True,
        )
        assert sum(isinstance(r, MethodologyExists) for r in results) == 1
        assert sum(isinstance(r, InvalidMethodology) for r in results) == 0
        assert await count_rows(platform, "methodology_versions") == 2


class TestCli:
    def test_publish_then_list(self, tmp_path: Path) -> None:
        var = tmp_path / "var"
        path = tmp_path / "2026.2.json"
        starts = effective(30)
        path.write_text(json.dumps(document("2026.2", starts)), encoding="utf-8")
        published = as_json(tanhui(var, "methodology", "publish", str(path), "--by", "li.admin", "--json"))
        assert published["version"] == "2026.2" and published["effective_from"] == starts
        assert published["source"] == "published" and published["published_by"] == "li.admin"
        listing = as_json(tanhui(var, "methodology", "list", "--json"))
        assert [(v["version"], v["source"]) for v in listing] == [
            ("2026.1", "bundled"),
            ("2026.2", "published"),
        ]
        again = tanhui(var, "methodology", "publish", str(path), ok=False)
        assert again.returncode == 2 and "methodology-exists" in again.stderr

    @pytest.mark.parametrize(
        ("case", "content"),
        [
            ("a past effective date", lambda: json.dumps(document("2026.2", effective(-1)))),
            ("a file that is not JSON", lambda: "{version:"),
        ],
    )
    def test_a_refused_version_is_a_clear_error_not_a_traceback(self, tmp_path: Path, case, content) -> None:
        var = tmp_path / "var"
        path = tmp_path / "bad.json"
        path.write_text(content(), encoding="utf-8")
        proc = tanhui(var, "methodology", "publish", str(path), ok=False)
        assert (
            proc.returncode == 2 and "invalid-methodology" in proc.stderr and "Traceback" not in proc.stderr
        )
        listing = as_json(tanhui(var, "methodology", "list", "--json"))
        assert [v["version"] for v in listing] == ["2026.1"]
