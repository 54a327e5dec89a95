"""The frame every partner kind shares: one honest day for a range of the population."""

from __future__ import annotations

import random
from collections.abc import Iterator
from datetime import date, datetime
from typing import Any, ClassVar

from .base import Action, Person, Traffic, person, rfc3339, sort_actions, user_id
from .plan import Slot, day_plan

Item = tuple[datetime, str, dict[str, Any]]  # when, region, data: an action before its ids


class Generator:
    """A partner kind: fills that kind's slots of each person's day with actions of its type."""

    kind: ClassVar[str]
    prefix: ClassVar[str]  # event ids start with it: unique per partner even if one reports several kinds
    action_type: ClassVar[str]

    def day(
        self,
        day: date,
        citizens: int = 200,
        seed: int = 1,
        *,
        population_seed: int | None = None,
        first: int = 0,
        home: str | None = None,
    ) -> Traffic:
        """People `first .. first+citizens-1` of the population, one honest day each.

        Deterministic: the same arguments give the same actions under the same event ids, so
        replaying a day is idempotent. `population_seed` (default `seed`) picks the people;
        `home` (a region code) makes them all live there, e.g. a cohort of Nan'ao's pilot.
        """
        population = seed if population_seed is None else population_seed
        bindings, actions = [], []
        for index in range(first, first + citizens):
            who = person(population, index, home)
            user = user_id(self.kind, population, index)
            bindings.append((user, who.mobile))
            slots = [slot for slot in day_plan(who, day) if slot.kind == self.kind]
            rng = random.Random(f"{self.kind}:{seed}:{population}:{day.isoformat()}:{index}")
            for j, (moment, region, data) in enumerate(self.fill(who, slots, rng), 1):
                event_id = self.event_id(day, seed, population, f"{index:05d}-{j:02d}")
                actions.append(self.action(event_id, user, moment, region, data))
        return Traffic(bindings, sort_actions(actions))

    def fill(self, who: Person, slots: list[Slot], rng: random.Random) -> Iterator[Item]:
        """(moment, region, data) for each action in the person's slots, in time order."""
        raise NotImplementedError

    def event_id(self, day: date, seed: int, population_seed: int, suffix: str) -> str:
        return f"{self.prefix}-{day:%Y%m%d}-s{seed}p{population_seed}-{suffix}"

    def action(self, event_id: str, user: str, moment: datetime, region: str, data: dict[str, Any]) -> Action:
        """An ACTION of the partner API contract."""
        return {
            "event_id": event_id,
            "user": user,
            "type": self.action_type,
            "occurred_at": rfc3339(moment),
            "region": region,
            "data": data,
        }
