"""Reference partner simulators: realistic, seeded traffic of Shantou partners, honest or with fraud.

    from partners.simulators import GENERATORS, inject, replay_day
    traffic = GENERATORS["transit"].day(date(2026, 11, 24), citizens=200, seed=1)
    traffic = inject(traffic, "transit", ["speed", "overlap"], day=date(2026, 11, 24), citizens=200)
    summary = replay_day(client, traffic)   # client: partners.sdk.TanhuiClient

Imports nothing of ours but `partners.sdk`, and that only when talking to a server.
"""

from .base import FraudCase, Person, Traffic, mobile, person, user_id
from .fraud import FRAUD_KINDS, SUPPORTED, ReplayResult, inject, replay_request
from .generator import Generator
from .plan import Slot, day_plan
from .registry import GENERATORS, KINDS
from .run import bind_all, replay_day, run_at_rate

__all__ = [
    "FRAUD_KINDS",
    "GENERATORS",
    "KINDS",
    "SUPPORTED",
    "FraudCase",
    "Generator",
    "Person",
    "ReplayResult",
    "Slot",
    "Traffic",
    "bind_all",
    "day_plan",
    "inject",
    "mobile",
    "person",
    "replay_day",
    "replay_request",
    "run_at_rate",
    "user_id",
]
