"""One published methodology version: its factors with sources, and points per gram per book."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from fractions import Fraction
from types import MappingProxyType
from typing import Any

from points_engine.methodologies.decimals import format_decimal, is_decimal, parse_decimal
from points_engine.methodologies.errors import InvalidMethodologyVersion
from points_engine.methodologies.factor import Factor
from points_engine.methodologies.keys import (
    FAMILY_UNITS,
    RECYCLABLE,
    REQUIRED_KEYS,
    UNIT_SCALE,
    family_of,
    is_key,
    is_recyclable_material,
)
from points_engine.regions import BOOKS, Book

_VERSION = re.compile(r"[0-9]{4}\.[1-9][0-9]*")
_FIELDS = frozenset({"version", "effective_from", "points_per_gram", "factors"})


@dataclass(frozen=True, slots=True)
class MethodologyVersion:
    """Factors as published (``waste.recyclable`` is derived, see :meth:`factor`), in force from
    ``effective_from`` until the next version; points are ``floor(reduction_g × points_per_gram)``."""

    version: str
    effective_from: datetime
    points_per_gram: Mapping[Book, Fraction]
    factors: Mapping[str, Factor]
    # What pricing one action needs, worked out once per version (assess runs once per action):
    # per key, the methodology id and grams per base unit as integers n/d; per book, points per gram.
    _prices: Mapping[str, tuple[str, int, int]] = field(init=False, repr=False, compare=False)
    _rates: Mapping[str, tuple[int, int]] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        try:
            self._validate()
        except InvalidMethodologyVersion as error:
            raise InvalidMethodologyVersion(error.reason, version=self.version) from None
        # Read-only views, so a published version cannot be changed behind the catalog's back.
        object.__setattr__(self, "points_per_gram", MappingProxyType(dict(self.points_per_gram)))
        object.__setattr__(self, "factors", MappingProxyType(dict(sorted(self.factors.items()))))
        prices = {key: self._price(key) for key in self.keys}
        rates = {book: (rate.numerator, rate.denominator) for book, rate in self.points_per_gram.items()}
        object.__setattr__(self, "_prices", MappingProxyType(prices))
        object.__setattr__(self, "_rates", MappingProxyType(rates))

    def __hash__(self) -> int:
        return hash((self.version, self.effective_from))

    @property
    def keys(self) -> frozenset[str]:
        """Every key this version prices, the derived ``waste.recyclable`` included."""
        return frozenset(self.factors) | {RECYCLABLE}

    def factor(self, key: str) -> Factor:
        """The factor of ``key``. ``waste.recyclable`` (material unknown) gets the lowest recyclable
        factor of this version: conservative, as domain.md requires. Raises KeyError if not priced."""
        if key == RECYCLABLE:
            return self._lowest_recyclable()
        return self.factors[key]

    def table(self) -> tuple[tuple[str, Factor], ...]:
        """Every (key, factor) of this version ordered by key, the derived one included."""
        return tuple(sorted((key, self.factor(key)) for key in self.keys))

    def reduction(self, key: str, quantity: int) -> tuple[str, int]:
        """``(methodology, grams)``: the id ``<key>@<version>`` and ``factor(key).reduction_g(quantity)``.
        Raises KeyError if ``key`` is not priced, ValueError if ``quantity`` is negative."""
        methodology, numerator, denominator = self._prices[key]
        if quantity < 0:
            raise ValueError(f"quantity must be >= 0, got {quantity}")
        return methodology, quantity * numerator // denominator

    def points(self, reduction_g: int, book: Book) -> int:
        """Points for ``reduction_g`` grams booked to ``book``, rounded down."""
        numerator, denominator = self._rates[book]
        return reduction_g * numerator // denominator

    @classmethod
    def from_json(cls, d: Mapping[str, Any]) -> MethodologyVersion:
        """A version from its published JSON form (as in ``versions/<version>.json``)."""
        if not isinstance(d, Mapping) or set(d) != _FIELDS:
            raise InvalidMethodologyVersion(f"expected exactly the fields {sorted(_FIELDS)}")
        version, effective_from = d["version"], d["effective_from"]
        rates, factors = d["points_per_gram"], d["factors"]
        if not isinstance(version, str) or not isinstance(effective_from, str):
            raise InvalidMethodologyVersion("version and effective_from are strings")
        if not isinstance(rates, dict) or not isinstance(factors, dict):
            raise InvalidMethodologyVersion("points_per_gram and factors are objects", version=version)
        if not all(isinstance(rate, str) for rate in rates.values()):
            raise InvalidMethodologyVersion("points_per_gram values are decimal strings", version=version)
        return cls(
            version=version,
            effective_from=_parse_time(effective_from, version),
            points_per_gram={book: parse_decimal(rate) for book, rate in rates.items()},
            factors={key: Factor.from_json(key, factor) for key, factor in factors.items()},
        )

    def to_json(self) -> dict[str, Any]:
        """The published JSON form; ``from_json`` of it gives back an equal version."""
        return {
            "version": self.version,
            "effective_from": self.effective_from.isoformat(),
            "points_per_gram": {book: format_decimal(rate) for book, rate in self.points_per_gram.items()},
            "factors": {key: factor.to_json() for key, factor in self.factors.items()},
        }

    def _price(self, key: str) -> tuple[str, int, int]:
        factor = self.factor(key)
        per_unit = factor.g_per_unit
        return f"{key}@{self.version}", per_unit.numerator, per_unit.denominator * UNIT_SCALE[factor.unit]

    def _lowest_recyclable(self) -> Factor:
        key, lowest = min(
            ((k, f) for k, f in self.factors.items() if is_recyclable_material(k)),
            key=lambda item: (item[1].g_per_unit, item[0]),
        )
        return Factor(
            g_per_unit=lowest.g_per_unit,
            unit=lowest.unit,
            source=f"Derived: the lowest recyclable factor of this version ({key}).",
            notes="Recyclable reported without a material: the conservative choice (domain.md).",
        )

    def _validate(self) -> None:
        if not isinstance(self.version, str) or not _VERSION.fullmatch(self.version):
            raise InvalidMethodologyVersion(f"version {self.version!r} is not of the form YYYY.N")
        if self.effective_from.utcoffset() is None:
            raise InvalidMethodologyVersion("effective_from must be timezone-aware")
        if set(self.points_per_gram) != set(BOOKS):
            raise InvalidMethodologyVersion(f"points_per_gram must name exactly the books {list(BOOKS)}")
        for rate in self.points_per_gram.values():
            if not isinstance(rate, Fraction) or not is_decimal(rate):
                raise InvalidMethodologyVersion(f"points_per_gram {rate!r} is not an exact decimal ≥ 0")
        if missing := REQUIRED_KEYS - set(self.factors):
            raise InvalidMethodologyVersion(f"missing factors for {sorted(missing)}")
        for key, factor in self.factors.items():
            _check_factor(key, factor)


def _check_factor(key: str, factor: Factor) -> None:
    if key == RECYCLABLE:
        raise InvalidMethodologyVersion(f"{RECYCLABLE} is derived from the materials, not published")
    if not is_key(key):
        raise InvalidMethodologyVersion(f"{key!r} is not a methodology key of {sorted(FAMILY_UNITS)}")
    if not isinstance(factor, Factor) or factor.unit not in FAMILY_UNITS[family_of(key)]:
        raise InvalidMethodologyVersion(
            f"factor {key} must be a Factor in {sorted(FAMILY_UNITS[family_of(key)])}"
        )


def _parse_time(text: str, version: str) -> datetime:
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise InvalidMethodologyVersion(f"effective_from {text!r} is not ISO 8601", version=version) from None
    # Only the canonical form (as isoformat() writes it) keeps the JSON round trip exact.
    if moment.isoformat() != text:
        raise InvalidMethodologyVersion(
            f"effective_from {text!r} must be written as {moment.isoformat()!r}", version=version
        )
    return moment
