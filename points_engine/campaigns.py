"""Campaigns: time-boxed bonus points on matching actions, paid from a budget that never overspends.

A campaign names the actions it rewards (a type, optionally one kind of it: ``trip.bike``,
``waste_sorting.hazardous``), the regions (none: all of Shantou) and the window their
``occurred_at`` must fall in, and the bonus: ``bonus_percent`` of the action's points plus
``fixed_points`` (so an action that earns no points, like hazardous waste, can still earn a
bonus). Bonus points are not reduction-backed: they come from the campaign's budget, never from a
reduction, and claim none.

The budget is spent in the order the actions are granted: each grant is the bonus clipped to
what remains, and a campaign with nothing left grants nothing more (``exhausted``). Plain data
in, plain data out: the caller reads the clock and stores the budget.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import ClassVar, Generic, TypeVar

from points_engine.actions import ACTION_TYPES, MEALS, TRIP_MODES, WASTE_CATEGORIES, ActionType
from points_engine.errors import EngineError
from points_engine.regions import SHANTOU_REGIONS

CAMPAIGN_ID = re.compile(r"[A-Za-z0-9._-]{1,64}")  # a ledger account owner: campaign:{id}
MAX_BONUS_PERCENT = 1000  # ten times the action's points: beyond that a typo, not a promotion
MAX_FIXED_POINTS = 100_000  # about a year of one citizen's bus trips
MAX_BUDGET_POINTS = 10**12
MAX_NAME = 200

# The field of an action's data that says which kind of its type it is.
KIND_FIELD: Mapping[ActionType, str] = {"trip": "mode", "waste_sorting": "category", "clean_plate": "meal"}
KINDS: Mapping[ActionType, tuple[str, ...]] = {
    "trip": TRIP_MODES,
    "waste_sorting": WASTE_CATEGORIES,
    "clean_plate": MEALS,
}

# The recent burn rate is measured over this much time (or since the start, if more recent).
BURN_WINDOW = timedelta(days=7)
MIN_BURN_WINDOW = timedelta(hours=1)  # a rate from minutes of data would swing wildly
LOW_BUDGET_PERCENT = 10


class InvalidCampaign(EngineError):
    """A campaign, or a change to its budget, that breaks a rule below."""

    code: ClassVar[str] = "invalid-campaign"


@dataclass(frozen=True, slots=True)
class Selector:
    """Which actions a campaign rewards: every action of ``type``, or only those of one ``kind``."""

    type: ActionType
    kind: str | None = None

    @classmethod
    def parse(cls, text: str) -> Selector:
        """``trip``, ``trip.bike``, ``waste_sorting.hazardous``, ``clean_plate.lunch`` …"""
        type_text, dot, kind = text.partition(".") if isinstance(text, str) else ("", "", "")
        for action_type in ACTION_TYPES:
            if action_type == type_text:
                if not dot:
                    return cls(action_type)
                if kind in KINDS[action_type]:
                    return cls(action_type, kind)
                kinds = ", ".join(KINDS[action_type])
                raise InvalidCampaign(f"{text!r}: a {action_type} is one of {kinds}")
        raise InvalidCampaign(f"{text!r}: not an action type ({', '.join(ACTION_TYPES)}), optionally .kind")

    def __str__(self) -> str:
        return self.type if self.kind is None else f"{self.type}.{self.kind}"

    def selects(self, action_type: str, kind: str | None) -> bool:
        return self.type == action_type and (self.kind is None or self.kind == kind)


@dataclass(frozen=True, slots=True)
class ActionFacts:
    """What a campaign needs to know of one settled action."""

    type: str
    kind: str | None  # the trip's mode, the waste's category, the meal: KIND_FIELD of its data
    region: str
    occurred_at: datetime
    status: str  # the outcome: credited | capped | rejected
    flagged: bool
    points: int


def earns_bonus(facts: ActionFacts) -> bool:
    """Credited actions earn a bonus, and capped ones that still earned points; an action capped to
    nothing does not (the day's allowance is used), nor a rejected or flagged one."""
    if facts.flagged:
        return False
    return facts.status == "credited" or (facts.status == "capped" and facts.points > 0)


@dataclass(frozen=True, slots=True)
class Campaign:
    """The rule of a campaign. ``starts_at`` <= occurred_at < ``ends_at``; no regions: all."""

    campaign_id: str
    name: str
    applies_to: tuple[Selector, ...]
    regions: tuple[str, ...]
    starts_at: datetime
    ends_at: datetime
    bonus_percent: int = 0
    fixed_points: int = 0

    def __post_init__(self) -> None:
        object.__setattr__(self, "applies_to", tuple(sorted(set(self.applies_to), key=str)))
        object.__setattr__(self, "regions", tuple(sorted(set(self.regions))))
        _check(self)

    @classmethod
    def of(
        cls,
        campaign_id: str,
        name: str,
        applies_to: Iterable[str],
        regions: Iterable[str],
        starts_at: datetime,
        ends_at: datetime,
        bonus_percent: int = 0,
        fixed_points: int = 0,
    ) -> Campaign:
        """A campaign from its selectors as text; InvalidCampaign naming the first broken rule."""
        selectors = tuple(Selector.parse(s) for s in applies_to)
        return cls(
            campaign_id, name, selectors, tuple(regions), starts_at, ends_at, bonus_percent, fixed_points
        )

    def matches(self, facts: ActionFacts) -> bool:
        """The action is of a selected type and kind, in a selected region, inside the window."""
        return (
            self.starts_at <= facts.occurred_at < self.ends_at
            and (not self.regions or facts.region in self.regions)
            and any(s.selects(facts.type, facts.kind) for s in self.applies_to)
        )


def _check(c: Campaign) -> None:
    if not isinstance(c.campaign_id, str) or not CAMPAIGN_ID.fullmatch(c.campaign_id):
        raise InvalidCampaign(f"campaign_id {c.campaign_id!r}: 1-64 characters of [A-Za-z0-9._-]")
    if not isinstance(c.name, str) or not c.name.strip() or len(c.name) > MAX_NAME:
        raise InvalidCampaign(f"name: 1-{MAX_NAME} characters, not blank")
    if not c.applies_to or not all(isinstance(s, Selector) for s in c.applies_to):
        raise InvalidCampaign("applies_to: at least one action type")
    unknown = [r for r in c.regions if r not in SHANTOU_REGIONS]
    if unknown:
        raise InvalidCampaign(f"regions: {unknown} are not divisions of Shantou")
    for name in ("starts_at", "ends_at"):
        at = getattr(c, name)
        if not isinstance(at, datetime) or at.tzinfo is None:
            raise InvalidCampaign(f"{name}: a time with its offset")
    if c.ends_at <= c.starts_at:
        raise InvalidCampaign("ends_at must be after starts_at")
    _check_int("bonus_percent", c.bonus_percent, 0, MAX_BONUS_PERCENT)
    _check_int("fixed_points", c.fixed_points, 0, MAX_FIXED_POINTS)
    if c.bonus_percent == 0 and c.fixed_points == 0:
        raise InvalidCampaign("a campaign gives bonus_percent or fixed_points (or both)")


def _check_int(name: str, value: object, low: int, high: int) -> None:
    if type(value) is not int or not low <= value <= high:
        raise InvalidCampaign(f"{name}: a whole number from {low} to {high}, not {value!r}")


def bonus_for(campaign: Campaign, facts: ActionFacts) -> int:
    """The bonus the action earns before the budget is considered (0: none). Rounded down."""
    if not earns_bonus(facts) or not campaign.matches(facts):
        return 0
    return facts.points * campaign.bonus_percent // 100 + campaign.fixed_points


@dataclass(frozen=True, slots=True)
class Budget:
    """What a campaign may give (``budget_points``) and has given (``granted_points``)."""

    budget_points: int
    granted_points: int = 0

    def __post_init__(self) -> None:
        _check_int("budget_points", self.budget_points, 0, MAX_BUDGET_POINTS)
        _check_int("granted_points", self.granted_points, 0, self.budget_points)

    @property
    def remaining(self) -> int:
        return self.budget_points - self.granted_points

    @property
    def exhausted(self) -> bool:
        return self.remaining == 0

    def grant(self, bonus: int) -> tuple[int, Budget]:
        """The points actually granted for ``bonus`` (never more than remains) and the new budget."""
        if type(bonus) is not int or bonus < 0:
            raise InvalidCampaign(f"bonus: a whole number of points, not {bonus!r}")
        points = min(bonus, self.remaining)
        return points, Budget(self.budget_points, self.granted_points + points)

    def fund(self, points: int) -> Budget:
        """More to give: ``points`` added to the budget."""
        _check_int("points", points, 1, MAX_BUDGET_POINTS - self.budget_points)
        return Budget(self.budget_points + points, self.granted_points)


K = TypeVar("K")


@dataclass(frozen=True, slots=True)
class Grants(Generic[K]):
    """What granting a sequence of actions gave: (key, points > 0) in order, the budget after it,
    and how many of the actions were looked at (all of them, unless the budget ran out first)."""

    granted: tuple[tuple[K, int], ...]
    budget: Budget
    consumed: int


def grant_all(campaign: Campaign, budget: Budget, actions: Iterable[tuple[K, ActionFacts]]) -> Grants[K]:
    """Grant each action its bonus, in order, until the budget is spent. The action that spends the
    last point gets what was left; those after it are not looked at (a refund resumes with them)."""
    granted: list[tuple[K, int]] = []
    consumed = 0
    for key, facts in actions:
        if budget.exhausted:
            break
        consumed += 1
        points, budget = budget.grant(bonus_for(campaign, facts))
        if points > 0:
            granted.append((key, points))
    return Grants(tuple(granted), budget, consumed)


@dataclass(frozen=True, slots=True)
class Projection:
    """The burn-down's outlook: points granted per day lately, when the budget would run out at that
    rate (None: it is not being spent, or is spent already), and whether to warn."""

    burn_per_day: int
    exhausted_at: datetime | None
    low_budget: bool


def burn_since(campaign: Campaign, now: datetime) -> datetime:
    """Where the window of the recent burn rate starts: a week back, or the campaign's start."""
    return max(now - BURN_WINDOW, campaign.starts_at)


def project(
    campaign: Campaign, budget: Budget, recent_points: int, now: datetime, *, ended: bool = False
) -> Projection:
    """The outlook from ``recent_points`` granted since ``burn_since(campaign, now)``: low when less
    than 10 % remains, or when at the recent rate the budget runs out before the campaign ends.
    An ended campaign gives nothing more: no outlook, no warning."""
    seconds = int(max(now - burn_since(campaign, now), MIN_BURN_WINDOW).total_seconds())
    per_day = recent_points * 86_400 // seconds
    if ended:
        return Projection(per_day, None, False)
    exhausted_at = None
    if recent_points > 0 and not budget.exhausted:
        exhausted_at = now + timedelta(seconds=budget.remaining * seconds // recent_points)
    low = budget.remaining * 100 < budget.budget_points * LOW_BUDGET_PERCENT or (
        exhausted_at is not None and exhausted_at < campaign.ends_at
    )
    return Projection(per_day, exhausted_at, low)
