"""What a partner reports, once validated: frozen values with integer quantities."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Literal, TypeAlias

from points_engine.frozen import fast_init

ActionType: TypeAlias = Literal["trip", "waste_sorting", "clean_plate"]
TripMode: TypeAlias = Literal["bus", "metro", "bike", "walk", "ev_car"]
WasteCategory: TypeAlias = Literal["recyclable", "kitchen", "hazardous", "other"]
Material: TypeAlias = Literal["paper", "plastic", "metal", "glass", "textile"]
Meal: TypeAlias = Literal["breakfast", "lunch", "dinner"]
Verifier: TypeAlias = Literal["photo_ai", "staff"]

ACTION_TYPES: tuple[ActionType, ...] = ("trip", "waste_sorting", "clean_plate")
TRIP_MODES: tuple[TripMode, ...] = ("bus", "metro", "bike", "walk", "ev_car")
WASTE_CATEGORIES: tuple[WasteCategory, ...] = ("recyclable", "kitchen", "hazardous", "other")
MATERIALS: tuple[Material, ...] = ("paper", "plastic", "metal", "glass", "textile")
MEALS: tuple[Meal, ...] = ("breakfast", "lunch", "dinner")
VERIFIERS: tuple[Verifier, ...] = ("photo_ai", "staff")


@fast_init
@dataclass(frozen=True, slots=True)
class Trip:
    mode: TripMode
    distance_m: int
    duration_s: int


@fast_init
@dataclass(frozen=True, slots=True)
class WasteSorting:
    category: WasteCategory
    weight_g: int
    station_id: str
    material: Material | None = None


@fast_init
@dataclass(frozen=True, slots=True)
class CleanPlate:
    canteen_id: str
    meal: Meal
    verified_by: Verifier


ActionData: TypeAlias = Trip | WasteSorting | CleanPlate


@fast_init
@dataclass(frozen=True, slots=True)
class ActionBody:
    """An action's content without the partner's identifiers: what a quote prices."""

    type: ActionType
    occurred_at: datetime  # timezone-aware, UTC
    region: str
    data: ActionData


@fast_init
@dataclass(frozen=True, slots=True)
class Action:
    """One reported green action, as accepted at intake."""

    partner_id: str
    event_id: str
    user: str
    body: ActionBody

    @property
    def type(self) -> ActionType:
        return self.body.type

    @property
    def occurred_at(self) -> datetime:
        return self.body.occurred_at

    @property
    def region(self) -> str:
        return self.body.region

    @property
    def data(self) -> ActionData:
        return self.body.data
