"""Pricing one action: its reduction in whole grams CO2e and its points, under the version in force."""

from __future__ import annotations

from dataclasses import dataclass

from points_engine.actions import ActionBody
from points_engine.frozen import fast_init
from points_engine.methodologies.catalog import Catalog
from points_engine.methodologies.keys import measure
from points_engine.regions import Book, book_of


@fast_init
@dataclass(frozen=True, slots=True)
class Assessment:
    """What an action earns before caps; ``methodology`` is ``"<key>@<version>"`` (``trip.bus@2026.1``)."""

    methodology: str
    version: str
    key: str
    reduction_g: int
    points: int
    book: Book


def assess(body: ActionBody, catalog: Catalog) -> Assessment:
    """Price ``body`` with the version in force at its ``occurred_at``: reduction rounded down to whole
    grams, points rounded down with that version's rate for the action's book. Reads no clock.

    Raises UnknownMethodologyVersion if no version was in force then."""
    version = catalog.in_force(body.occurred_at)
    key, quantity = measure(body.data)
    methodology, reduction_g = version.reduction(key, quantity)
    book = book_of(body.region)
    return Assessment(methodology, version.version, key, reduction_g, version.points(reduction_g, book), book)
