"""Versioned methodologies: the factors that turn a green action into grams CO2e, and grams into points.

Each version is data (``versions/<version>.json``) with a source for every factor. An action is priced by
the version in force at its ``occurred_at``; publishing a new version never changes a settled outcome.
"""

from points_engine.methodologies.assess import Assessment, assess
from points_engine.methodologies.catalog import Catalog, default_catalog
from points_engine.methodologies.errors import (
    InvalidMethodologyVersion,
    MethodologyError,
    UnknownMethodologyVersion,
)
from points_engine.methodologies.factor import Factor
from points_engine.methodologies.version import MethodologyVersion

__all__ = [
    "Assessment",
    "Catalog",
    "Factor",
    "InvalidMethodologyVersion",
    "MethodologyError",
    "MethodologyVersion",
    "UnknownMethodologyVersion",
    "assess",
    "default_catalog",
]
