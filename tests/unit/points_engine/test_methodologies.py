"""Versioned methodologies: the 2026.1 factors of domain.md, rounding, version selection, publishing."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone
from fractions import Fraction
from math import floor
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from points_engine.actions import MATERIALS, TRIP_MODES, ActionBody, CleanPlate, Material, Trip, WasteSorting
from points_engine.methodologies import (
    Assessment,
    Catalog,
    Factor,
    InvalidMethodologyVersion,
    MethodologyVersion,
    UnknownMethodologyVersion,
    assess,
    default_catalog,
)
from points_engine.methodologies.docs import render

REPO = Path(__file__).resolve().parents[3]
BUNDLED = REPO / "points_engine" / "methodologies" / "versions" / "2026.1.json"
CST = timezone(timedelta(hours=8))
AT = datetime(2026, 11, 24, 0, 15, tzinfo=UTC)
BOUNDARY_2027 = datetime(2027, 1, 1, tzinfo=CST)
LONGHU, NANAO = "440507", "440523"

# domain.md, "Default methodology factors (version 2026.1)", copied by hand: the data must match it.
DOMAIN_TABLE = {
    "trip.metro": "46.8",
    "trip.bus": "26.9",
    "trip.bike": "40",
    "trip.walk": "28",
    "trip.ev_car": "71",
    "waste.recyclable.paper": "1.76",
    "waste.recyclable.plastic": "1.37",
    "waste.recyclable.metal": "1.83",
    "waste.recyclable.glass": "0.26",
    "waste.recyclable.textile": "1.28",
    "waste.kitchen": "0.25",
    "waste.hazardous": "0",
    "waste.other": "0",
    "clean_plate": "144",
}


def trip(mode: Any, distance_m: int, at: datetime = AT, region: str = LONGHU) -> ActionBody:
    return ActionBody("trip", at, region, Trip(mode, distance_m, duration_s=600))


def waste(category: Any, weight_g: int, material: Material | None = None, region: str = LONGHU) -> ActionBody:
    return ActionBody("waste_sorting", AT, region, WasteSorting(category, weight_g, "st_1", material))


def meal(region: str = LONGHU) -> ActionBody:
    return ActionBody("clean_plate", AT, region, CleanPlate("cn_1", "lunch", "staff"))


def bundled_json() -> dict[str, Any]:
    data: dict[str, Any] = json.loads(BUNDLED.read_text(encoding="utf-8"))
    return data


def variant(
    version: str = "2027.1",
    effective_from: str = "2027-01-01T00:00:00+08:00",
    g: dict[str, str] | None = None,
) -> MethodologyVersion:
    """2026.1 under another name and date, with the factors in ``g`` changed (``{"trip.bus": "30"}``)."""
    data = bundled_json()
    data["version"], data["effective_from"] = version, effective_from
    for key, value in (g or {}).items():
        data["factors"][key]["g_per_unit"] = value
    return MethodologyVersion.from_json(data)


def with_extra_key(version: MethodologyVersion, key: str) -> MethodologyVersion:
    factors = {**version.factors, key: Factor(Fraction(10), "passenger-km", "test")}
    return MethodologyVersion(version.version, version.effective_from, version.points_per_gram, factors)


class TestDefaultFactors:
    @pytest.mark.parametrize(
        ("body", "key", "reduction_g"),
        [
            (trip("bus", 5_200), "trip.bus", 139),  # floor(5.2 × 26.9 = 139.88)
            (trip("metro", 10_000), "trip.metro", 468),
            (trip("bike", 2_500), "trip.bike", 100),
            (trip("walk", 1_000), "trip.walk", 28),
            (trip("ev_car", 10_000), "trip.ev_car", 710),
            (waste("recyclable", 1_000, "paper"), "waste.recyclable.paper", 1_760),
            (waste("recyclable", 1_000, "plastic"), "waste.recyclable.plastic", 1_370),
            (waste("recyclable", 1_000, "metal"), "waste.recyclable.metal", 1_830),
            (waste("recyclable", 1_000, "glass"), "waste.recyclable.glass", 260),
            (waste("recyclable", 1_000, "textile"), "waste.recyclable.textile", 1_280),
            (waste("recyclable", 1_000), "waste.recyclable", 260),
            (waste("kitchen", 1_000), "waste.kitchen", 250),
            (waste("hazardous", 1_000), "waste.hazardous", 0),
            (waste("other", 1_000), "waste.other", 0),
            (meal(), "clean_plate", 144),
        ],
    )
    def test_each_factor_reproduces_the_domain_table(
        self, body: ActionBody, key: str, reduction_g: int
    ) -> None:
        assert assess(body, default_catalog()) == Assessment(
            methodology=f"{key}@2026.1",
            version="2026.1",
            key=key,
            reduction_g=reduction_g,
            points=reduction_g,
            book="shantou",
        )

    def test_every_row_of_the_domain_table_is_published_with_a_source(self) -> None:
        version = default_catalog().get("2026.1")
        assert {key: str(f.g_per_unit) for key, f in version.factors.items()} == {
            key: str(Fraction(text)) for key, text in DOMAIN_TABLE.items()
        }
        assert all(f.source.strip() for f in version.factors.values())

    def test_recyclable_without_material_uses_the_lowest_material_factor(self) -> None:
        assert default_catalog().get("2026.1").factor("waste.recyclable").g_per_unit == Fraction("0.26")
        cheap_plastic = variant(g={"waste.recyclable.plastic": "0.1"})
        assert cheap_plastic.factor("waste.recyclable").g_per_unit == Fraction("0.1")
        assert "waste.recyclable.plastic" in cheap_plastic.factor("waste.recyclable").source

    def test_the_default_catalog_is_loaded_once(self) -> None:
        assert default_catalog() is default_catalog()
        assert [v.version for v in default_catalog().versions] == ["2026.1"]


class TestRounding:
    @pytest.mark.parametrize(
        ("body", "reduction_g"),
        [
            (trip("metro", 21), 0),  # 0.98 g
            (trip("metro", 22), 1),  # 1.0296 g
            (trip("bus", 5_199), 139),  # 139.85 g
            (waste("recyclable", 3, "glass"), 0),  # 0.78 g
            (waste("kitchen", 7), 1),  # 1.75 g
            (waste("recyclable", 999, "metal"), 1_828),  # 1,828.17 g
        ],
    )
    def test_reduction_is_rounded_down_to_whole_grams(self, body: ActionBody, reduction_g: int) -> None:
        assert assess(body, default_catalog()).reduction_g == reduction_g

    def test_points_are_rounded_down_with_the_rate_of_the_book(self) -> None:
        data = bundled_json()
        data["points_per_gram"] = {"shantou": "0.5", "nanao": "1.5"}
        catalog = Catalog((MethodologyVersion.from_json(data),))
        assert assess(trip("bus", 5_200), catalog).points == 69  # 139 × 0.5 = 69.5
        assert assess(trip("bus", 5_200, region=NANAO), catalog).points == 208  # 139 × 1.5 = 208.5


class TestProperties:
    @given(mode=st.sampled_from(TRIP_MODES), a=st.integers(0, 10**9), b=st.integers(0, 10**9))
    def test_trip_reduction_is_an_exact_floor_monotone_and_never_negative(
        self, mode: Any, a: int, b: int
    ) -> None:
        near, far = sorted((a, b))
        r_near, r_far = (assess(trip(mode, d), default_catalog()).reduction_g for d in (near, far))
        assert type(r_near) is int and 0 <= r_near <= r_far
        assert r_far == floor(Fraction(far, 1000) * Fraction(DOMAIN_TABLE[f"trip.{mode}"]))

    @given(material=st.sampled_from((None, *MATERIALS)), a=st.integers(0, 10**9), b=st.integers(0, 10**9))
    def test_waste_reduction_is_monotone_in_weight_and_never_negative(
        self, material: Any, a: int, b: int
    ) -> None:
        light, heavy = sorted((a, b))
        r_light, r_heavy = (
            assess(waste("recyclable", w, material), default_catalog()).reduction_g for w in (light, heavy)
        )
        assert type(r_heavy) is int and 0 <= r_light <= r_heavy
        assert r_heavy <= heavy * 2  # no recyclable factor reaches 2 g per g

    @given(quantity=st.integers(0, 10**9), cheap_plastic=st.booleans())
    def test_the_price_table_of_a_version_gives_what_its_factors_give(
        self, quantity: int, cheap_plastic: bool
    ) -> None:
        """assess reads a table made once per version, not the factors: they must agree on every key."""
        version = (
            variant(g={"waste.recyclable.plastic": "0.1"}) if cheap_plastic else default_catalog().versions[0]
        )
        for key in version.keys:
            expected = (f"{key}@{version.version}", version.factor(key).reduction_g(quantity))
            assert version.reduction(key, quantity) == expected

    def test_the_price_table_refuses_what_the_factors_refuse(self) -> None:
        version = default_catalog().versions[0]
        with pytest.raises(KeyError):
            version.reduction("trip.rocket", 1)
        with pytest.raises(ValueError, match="quantity"):
            version.reduction("trip.bus", -1)

    @given(places=st.integers(0, 6), numerator=st.integers(0, 10**12))
    def test_any_exact_decimal_factor_round_trips_through_json(self, places: int, numerator: int) -> None:
        factor = Factor(Fraction(numerator, 10**places), "g", "test", notes=None)
        assert Factor.from_json("waste.kitchen", factor.to_json()) == factor


class TestVersionInForce:
    catalog = default_catalog().with_version(variant(g={"trip.bus": "30"}))

    @pytest.mark.parametrize(
        ("occurred_at", "version"),
        [
            (BOUNDARY_2027, "2027.1"),
            (BOUNDARY_2027.astimezone(UTC), "2027.1"),  # the same instant, written in UTC
            (BOUNDARY_2027 - timedelta(microseconds=1), "2026.1"),
            (BOUNDARY_2027.astimezone(UTC) - timedelta(microseconds=1), "2026.1"),  # as settlement has them
            (BOUNDARY_2027 + timedelta(days=400), "2027.1"),
            (datetime(2026, 1, 1, tzinfo=CST), "2026.1"),
        ],
    )
    def test_the_latest_version_effective_at_occurred_at_applies(
        self, occurred_at: datetime, version: str
    ) -> None:
        assert self.catalog.in_force(occurred_at).version == version

    def test_an_action_is_priced_by_the_version_in_force_when_it_occurred(self) -> None:
        before = assess(trip("bus", 5_200, at=BOUNDARY_2027 - timedelta(seconds=1)), self.catalog)
        after = assess(trip("bus", 5_200, at=BOUNDARY_2027), self.catalog)
        assert (before.methodology, before.reduction_g) == ("trip.bus@2026.1", 139)
        assert (after.methodology, after.reduction_g) == ("trip.bus@2027.1", 156)

    def test_an_action_before_the_first_version_has_no_methodology(self) -> None:
        with pytest.raises(UnknownMethodologyVersion):
            assess(trip("bus", 5_200, at=datetime(2025, 12, 31, 15, 59, 59, tzinfo=UTC)), self.catalog)
        with pytest.raises(UnknownMethodologyVersion):
            Catalog().in_force(AT)

    def test_a_naive_occurred_at_is_refused(self) -> None:
        with pytest.raises(ValueError, match="timezone-aware"):
            self.catalog.in_force(datetime(2026, 6, 1))

    def test_versions_are_found_by_name_and_listed_by_effective_from(self) -> None:
        assert [v.version for v in self.catalog.versions] == ["2026.1", "2027.1"]
        assert self.catalog.get("2027.1").factor("trip.bus").g_per_unit == 30
        with pytest.raises(UnknownMethodologyVersion):
            self.catalog.get("2028.1")


class TestWithVersion:
    @pytest.mark.parametrize(
        "effective_from",
        ["2026-01-01T00:00:00+08:00", "2025-12-31T16:00:00+00:00", "2025-06-01T00:00:00+08:00"],
    )
    def test_a_version_not_strictly_after_the_latest_is_rejected(self, effective_from: str) -> None:
        with pytest.raises(InvalidMethodologyVersion, match="after"):
            default_catalog().with_version(variant(effective_from=effective_from))

    def test_a_version_name_already_published_is_rejected(self) -> None:
        with pytest.raises(InvalidMethodologyVersion, match="already exists"):
            default_catalog().with_version(variant(version="2026.1"))

    def test_a_version_dropping_a_key_of_the_latest_is_rejected(self) -> None:
        catalog = Catalog((with_extra_key(default_catalog().get("2026.1"), "trip.ferry"),))
        with pytest.raises(InvalidMethodologyVersion, match=r"trip\.ferry"):
            catalog.with_version(variant())
        assert catalog.with_version(with_extra_key(variant(), "trip.ferry")).versions[-1].version == "2027.1"

    def test_the_original_catalog_is_unchanged(self) -> None:
        default_catalog().with_version(variant())
        assert len(default_catalog().versions) == 1

    def test_a_catalog_built_out_of_order_is_rejected(self) -> None:
        with pytest.raises(InvalidMethodologyVersion):
            Catalog((variant(), default_catalog().get("2026.1")))


class TestValidation:
    @pytest.mark.parametrize(
        ("path", "value"),
        [
            (("factors", "trip.bus", "g_per_unit"), "26.90"),  # not canonical: would not round-trip
            (("factors", "trip.bus", "g_per_unit"), "2.69e1"),
            (("factors", "trip.bus", "g_per_unit"), "-26.9"),
            (("factors", "trip.bus", "g_per_unit"), 26.9),  # a float, never
            (("factors", "trip.bus", "unit"), "g"),  # a trip is priced per km
            (("factors", "clean_plate", "unit"), "lightyear"),
            (("factors", "trip.bus", "source"), " "),
            (("factors", "waste.recyclable"), {"g_per_unit": "0.26", "unit": "g", "source": "x"}),
            (("effective_from",), "2027-01-01T00:00:00"),  # naive
            (("effective_from",), "2027-01-01T00:00:00Z"),  # not canonical
            (("version",), "v2027"),
            (("points_per_gram",), {"shantou": "1"}),
        ],
    )
    def test_a_malformed_version_is_rejected(self, path: tuple[str, ...], value: object) -> None:
        data = bundled_json()
        target = data
        for step in path[:-1]:
            target = target[step]
        target[path[-1]] = value
        with pytest.raises(InvalidMethodologyVersion):
            MethodologyVersion.from_json(data)

    def test_a_version_missing_an_action_s_key_is_rejected(self) -> None:
        data = bundled_json()
        del data["factors"]["waste.other"]
        with pytest.raises(InvalidMethodologyVersion, match=r"waste\.other"):
            MethodologyVersion.from_json(data)

    def test_a_published_version_is_read_only(self) -> None:
        with pytest.raises(TypeError):
            default_catalog().get("2026.1").factors["trip.bus"] = Factor(Fraction(99), "km", "x")  # type: ignore[index]


class TestJson:
    def test_the_bundled_file_round_trips_exactly(self) -> None:
        assert MethodologyVersion.from_json(bundled_json()).to_json() == bundled_json()

    def test_a_version_round_trips_through_json_text(self) -> None:
        version = variant(g={"trip.bus": "30.125"})
        assert MethodologyVersion.from_json(json.loads(json.dumps(version.to_json()))) == version


class TestBooks:
    def test_an_action_in_nanao_is_booked_to_nanao(self) -> None:
        assert assess(trip("bus", 5_200, region=NANAO), default_catalog()).book == "nanao"
        assert assess(meal(region=NANAO), default_catalog()).book == "nanao"

    def test_an_action_elsewhere_in_shantou_is_booked_to_shantou(self) -> None:
        assert assess(meal(region="440515"), default_catalog()).book == "shantou"


class TestDocs:
    def test_every_factor_and_its_source_is_documented(self) -> None:
        page = render(default_catalog())
        for key, factor in default_catalog().get("2026.1").table():
            assert f"`{key}`" in page and factor.source in page

    def test_the_committed_page_is_generated_from_the_catalog(self) -> None:
        assert (REPO / "docs" / "methodologies.md").read_text(encoding="utf-8") == render(default_catalog())
