"""/v1/methodologies: anyone, without a token, reads every methodology version and its factors with
their sources (transparency for citizens and auditors); nothing there can change a version."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from importlib.resources import files

import pytest

from backend.context import Platform
from backend.methodologies import MethodologyRegistry
from tests.e2e.admin_api.test_methodologies import document, effective
from tests.e2e.partner_api.test_signing import assert_problem

URL = "/v1/methodologies"


@pytest.fixture
def registry(platform: Platform) -> MethodologyRegistry:
    return platform.methodologies


def bundled_document() -> dict[str, object]:
    text = (files("points_engine.methodologies") / "versions" / "2026.1.json").read_text(encoding="utf-8")
    document: dict[str, object] = json.loads(text)
    return document


class TestListVersions:
    async def test_anyone_lists_the_bundled_version(self, http):
        response = await http.get(URL)
        assert response.status_code == 200
        assert response.json() == [
            {
                "version": "2026.1",
                "effective_from": "2026-01-01T00:00:00+08:00",
                "source": "bundled",
                "published_at": None,
            }
        ]

    async def test_a_published_version_is_listed_without_who_published_it(self, http, registry, platform):
        starts = effective(30)
        await registry.publish(document("2026.2", starts), "li.admin", datetime.now(UTC))
        listing = (await http.get(URL)).json()
        assert [(v["version"], v["effective_from"], v["source"]) for v in listing] == [
            ("2026.1", "2026-01-01T00:00:00+08:00", "bundled"),
            ("2026.2", starts, "published"),
        ]
        assert "li.admin" not in json.dumps(listing)


class TestGetVersion:
    async def test_a_version_answers_its_document_with_every_factor_and_source(self, http):
        response = await http.get(f"{URL}/2026.1")
        assert response.status_code == 200
        assert response.json() == bundled_document()

    async def test_a_published_version_answers_the_document_as_published(self, http, registry):
        doc = document("2026.2", effective(30))
        await registry.publish(doc, "li.admin", datetime.now(UTC))
        assert (await http.get(f"{URL}/2026.2")).json() == doc

    @pytest.mark.parametrize("version", ["2099.1", "latest", "2026.1%00"])
    async def test_an_unknown_version_is_404(self, http, version):
        assert_problem(await http.get(f"{URL}/{version}"), 404, "methodology-not-found")

    @pytest.mark.parametrize(
        ("method", "path"), [("POST", URL), ("PUT", f"{URL}/2026.1"), ("DELETE", f"{URL}/2026.1")]
    )
    async def test_nothing_there_writes(self, http, method, path):
        response = await http.request(method, path, json=document())
        assert_problem(response, 405, "method-not-allowed")
