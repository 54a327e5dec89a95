"""Play simulated traffic against a Tanhui server through the partner SDK.

`replay_day` binds a day's users and sends its actions as fast as the server takes them, 1,000 per
request; `run_at_rate` streams fresh citizens' days at a target rate for a bounded time. Both return
a summary dict (counts, rejections by problem type, actions/s, the labelled fraud cases).
The SDK is imported only when needed, so the generators work without it.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import date, timedelta
from typing import Any

from .base import Action, Traffic
from .fraud import FRAUDSTERS, inject
from .registry import GENERATORS
from .report import Progress, Tally

BATCH = 1_000
DAYS_BACK = 6  # the API refuses actions older than 7 days: yesterday and the 5 days before


def chunks(actions: Sequence[Action], size: int = BATCH) -> Iterator[Sequence[Action]]:
    for start in range(0, len(actions), size):
        yield actions[start : start + size]


def bind_all(client: Any, bindings: Iterable[tuple[str, str]], workers: int = 8) -> dict[str, Any]:
    """Bind every (user, mobile), a few at a time; refusals (409: bound to another mobile) are counted."""
    from partners.sdk import ApiError

    def bind(pair: tuple[str, str]) -> str:
        try:
            return "created" if client.bind(*pair).created else "existing"
        except ApiError as error:
            return f"error: {error}"

    with ThreadPoolExecutor(max_workers=workers) as pool:
        answers = list(pool.map(bind, bindings))
    errors = [a for a in answers if a.startswith("error")]
    return {
        "bindings": len(answers),
        "bindings_created": answers.count("created"),
        "binding_errors": len(errors),
        "binding_error_sample": errors[0] if errors else None,
    }


def replay_day(
    client: Any, traffic: Traffic, *, bind: bool = True, progress: Progress | None = None
) -> dict[str, Any]:
    """Bind the traffic's users, then report all its actions in 1,000-action requests, in order.

    `seconds` and `actions_per_s` count sending time; `binding_seconds` the binding before it.

    Idempotent: replaying the same traffic again binds nothing new and answers `duplicate`.
    """
    binding_began = time.monotonic()
    summary = bind_all(client, traffic.bindings) if bind else {}
    summary["binding_seconds"] = round(time.monotonic() - binding_began, 3)
    tally, started = Tally(), time.monotonic()
    if progress is not None:
        progress.begin()
    for chunk in chunks(traffic.actions):
        tally.add(client.report_batch(chunk))
        if progress is not None:
            progress.update(tally)
    if progress is not None:
        progress.close(tally)
    summary.update(tally.as_dict(time.monotonic() - started))
    summary["fraud"] = [case.as_dict() for case in traffic.fraud]
    return summary


def run_at_rate(
    client: Any,
    kind: str,
    day: date,
    *,
    rate: float,
    duration: float = 60.0,
    citizens: int = 200,
    seed: int = 1,
    population_seed: int | None = None,
    frauds: Sequence[str] = (),
    progress: Progress | None = None,
) -> dict[str, Any]:
    """Send `kind` traffic at about `rate` actions/s for at most `duration` seconds (binding included).

    Citizens come in blocks of `citizens`: a block is bound once, then plays `day` and the days before
    it (up to DAYS_BACK, all within the API's 7-day window), then the next block of new people; so
    the stream never repeats an action. The first day of the first block carries the fraud.
    `seconds` and `actions_per_s` count sending time; `binding_seconds` the rest.
    """
    size = max(1, min(BATCH, round(rate / 10)))  # about ten requests a second
    tally, fraud_cases, bound = Tally(), [], {"bindings": 0, "bindings_created": 0, "binding_errors": 0}
    started = time.monotonic()
    deadline, paced_from, binding_s = started + duration, started, 0.0
    first = 0
    while time.monotonic() < deadline and first + citizens <= FRAUDSTERS:
        for back in range(DAYS_BACK):
            traffic = GENERATORS[kind].day(
                day - timedelta(days=back), citizens, seed, population_seed=population_seed, first=first
            )
            if frauds and first == 0 and back == 0:
                traffic = inject(
                    traffic,
                    kind,
                    frauds,
                    day=day,
                    seed=seed,
                    population_seed=population_seed,
                    citizens=citizens,
                )
                fraud_cases = [case.as_dict() for case in traffic.fraud]
            if back == 0:
                binding_began = time.monotonic()
                for key, value in bind_all(client, traffic.bindings).items():
                    bound[key] = value if key == "binding_error_sample" else bound.get(key, 0) + value
                binding_s += time.monotonic() - binding_began
                paced_from += time.monotonic() - binding_began  # binding is not sending: no catching up
                if progress is not None and first == 0:
                    progress.begin()
            for chunk in chunks(traffic.actions, size):
                if time.monotonic() >= deadline:
                    break
                delay = paced_from + tally.actions / rate - time.monotonic()
                time.sleep(max(0.0, min(delay, deadline - time.monotonic())))
                tally.add(client.report_batch(chunk))
                if progress is not None:
                    progress.update(tally)
        first += citizens
    if progress is not None:
        progress.close(tally)
    elapsed = time.monotonic() - started
    summary: dict[str, Any] = {**bound, "target_rate": rate, **tally.as_dict(max(elapsed - binding_s, 1e-9))}
    summary.update(binding_seconds=round(binding_s, 3), fraud=fraud_cases)
    return summary
