"""The benchmark's traffic: the reference simulators' honest days, serialised once into request bodies.

Every partner kind (transit, bike, waste station, canteen) plays the same citizens over the last
`DAYS_BACK` days (the API's window is 7), one simulated day per citizen and day, so each citizen-day
stays within the daily caps exactly as the simulators promise, and every event id is unique. More
actions come from more citizens, never from replaying a day. Generation runs in a process pool, and
each action is kept only as its JSON bytes: a batch body is one join.
"""

from __future__ import annotations

import hashlib
import itertools
import math
import multiprocessing
import os
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import TypeVar

import msgspec
import orjson

from partners import simulators
from partners.simulators import GENERATORS
from partners.simulators.base import SHANGHAI
from partners.simulators.run import DAYS_BACK

ACTIONS_PER_CITIZEN_DAY = 2.2  # all four kinds together, measured on the reference simulators
MAX_BLOCK = 1000  # citizens per generation task

Item = tuple[str, bytes]  # (user, the action's JSON)
Task = tuple[str, str, int, int, int]  # kind, day, first citizen, citizens, seed
T = TypeVar("T")


@dataclass
class Corpus:
    """Actions per partner kind in generation order, and each user's mobile for binding."""

    days: list[date]
    seed: int
    citizens: int = 0
    actions: dict[str, list[Item]] = field(default_factory=lambda: {kind: [] for kind in GENERATORS})
    mobiles: dict[str, dict[str, str]] = field(default_factory=lambda: {kind: {} for kind in GENERATORS})
    seconds: float = 0.0


@dataclass(frozen=True)
class Workload:
    """Prebuilt request bodies: full batches of one partner each, then single actions."""

    batches: list[tuple[str, bytes]]  # (partner kind, body)
    singles: list[tuple[str, bytes]]
    bindings: dict[str, list[tuple[str, str]]]  # kind -> (user, mobile) of every user sent
    batch_actions: int

    @property
    def distinct_actions(self) -> int:
        return self.batch_actions + len(self.singles)


def recent_days(today: date | None = None, days: int = DAYS_BACK) -> list[date]:
    """Yesterday and the days before it (Asia/Shanghai), all inside the API's 7-day window."""
    today = today or datetime.now(SHANGHAI).date()
    return [today - timedelta(days=back) for back in range(1, days + 1)]


def _generate(task: Task) -> tuple[Task, list[Item], dict[str, str]]:
    kind, day, first, citizens, seed = task
    traffic = GENERATORS[kind].day(date.fromisoformat(day), citizens, seed, first=first)
    items = [(action["user"], orjson.dumps(action)) for action in traffic.actions]
    return task, items, dict(traffic.bindings)


def grow(corpus: Corpus, citizens: int, on_done: Callable[[int], None] | None = None) -> None:
    """Add `citizens` more people (all kinds, all days) to the corpus, in parallel, deterministically."""
    started = time.monotonic()
    tasks: list[Task] = []
    for first in range(corpus.citizens, corpus.citizens + citizens, MAX_BLOCK):
        count = min(MAX_BLOCK, corpus.citizens + citizens - first)
        for kind in GENERATORS:
            tasks += [(kind, day.isoformat(), first, count, corpus.seed) for day in corpus.days]
    results: dict[Task, tuple[list[Item], dict[str, str]]] = {}
    workers = max(1, min(len(tasks), os.cpu_count() or 1))
    # spawn, not fork: the caller may be showing a progress bar, whose thread a fork would copy mid-write
    with multiprocessing.get_context("spawn").Pool(workers) as pool:
        for task, items, mobiles in pool.imap_unordered(_generate, tasks):
            results[task] = (items, mobiles)
            if on_done is not None:
                on_done(len(items))
    for task in tasks:  # in task order, whatever order they finished in
        items, mobiles = results[task]
        corpus.actions[task[0]] += items
        corpus.mobiles[task[0]].update(mobiles)
    corpus.citizens += citizens
    corpus.seconds += time.monotonic() - started


def citizens_for(actions: int, days: int) -> int:
    """About how many citizens give `actions` actions over `days` days."""
    return max(1, math.ceil(actions / (ACTIONS_PER_CITIZEN_DAY * days)))


def _body(items: list[Item]) -> bytes:
    return b'{"actions":[' + b",".join(action for _, action in items) + b"]}"


def _interleave(queues: dict[str, list[T]]) -> Iterator[tuple[str, T]]:
    """One of each kind in turn while any is left: (kind, item)."""
    iterators = {kind: iter(queue) for kind, queue in queues.items()}
    while iterators:
        for kind in list(iterators):
            try:
                yield kind, next(iterators[kind])
            except StopIteration:
                del iterators[kind]


def plan(corpus: Corpus, batches: int, batch_size: int, singles: int) -> Workload | None:
    """`batches` full batches (partners taking turns) and `singles` one-action bodies from what is
    left; None if the corpus is too small for that."""
    full: dict[str, list[list[Item]]] = {}
    rest: dict[str, list[Item]] = {}
    for kind, items in corpus.actions.items():
        cut = len(items) // batch_size * batch_size
        full[kind] = [items[i : i + batch_size] for i in range(0, cut, batch_size)]
        rest[kind] = items[cut:]
    chosen = list(itertools.islice(_interleave(full), batches))
    if len(chosen) < batches:
        return None
    used = {kind: 0 for kind in full}
    for kind, _ in chosen:
        used[kind] += 1
    for kind, chunks in full.items():  # unused full batches feed the single phase too
        rest[kind] = [item for chunk in chunks[used[kind] :] for item in chunk] + rest[kind]
    single_items = list(itertools.islice(_interleave(rest), singles))
    if len(single_items) < singles:
        return None
    users: dict[str, set[str]] = {kind: set() for kind in corpus.actions}
    for kind, chunk in chosen:
        users[kind].update(user for user, _ in chunk)
    for kind, (user, _) in single_items:
        users[kind].add(user)
    return Workload(
        batches=[(kind, _body(chunk)) for kind, chunk in chosen],
        singles=[(kind, _body([item])) for kind, item in single_items],
        bindings={kind: [(u, corpus.mobiles[kind][u]) for u in sorted(us)] for kind, us in users.items()},
        batch_actions=sum(len(chunk) for _, chunk in chosen),
    )


def build(
    batches: int,
    batch_size: int,
    singles: int,
    seed: int,
    cache_dir: Path | None = None,
    on_done: Callable[[int], None] | None = None,
) -> tuple[Workload, Corpus, str, bool]:
    """Generate just enough citizens for the workload (growing the population by a quarter until it
    fits) and plan it; (workload, corpus, the corpus's cache key, whether it came from the cache)."""
    corpus = Corpus(days=recent_days(), seed=seed)
    wanted = batches * batch_size + singles + len(GENERATORS) * batch_size  # slack: partial batches
    citizens = citizens_for(wanted, len(corpus.days))
    key = _cache_key(corpus.days, seed, citizens)
    path = cache_dir / f"corpus-{key}.msgpack" if cache_dir else None
    cached = _load(path) if path else None
    if cached is None:
        grow(corpus, citizens, on_done)
    else:
        corpus = cached
    while (workload := plan(corpus, batches, batch_size, singles)) is None:
        grow(corpus, max(1, corpus.citizens // 4), on_done)
    if path and cached is None:
        _save(path, corpus)
    return workload, corpus, key, cached is not None


# A cache of generated corpora: the simulators are deterministic, and generating a default run's
# ~220,000 actions takes about a minute of both cores. Keyed by the simulators' own source, so a
# change to them is never served stale data. Only the newest few files are kept.
CACHE_KEEP = 3


def _cache_key(days: list[date], seed: int, citizens: int) -> str:
    digest = hashlib.sha256(repr(([d.isoformat() for d in days], seed, citizens)).encode())
    for source in sorted(Path(simulators.__file__).parent.glob("*.py")):
        digest.update(source.read_bytes())
    return digest.hexdigest()[:20]


def _load(path: Path) -> Corpus | None:
    try:
        doc = msgspec.msgpack.decode(path.read_bytes())
    except (OSError, msgspec.DecodeError):
        return None
    return Corpus(
        days=[date.fromisoformat(d) for d in doc["days"]],
        seed=doc["seed"],
        citizens=doc["citizens"],
        actions={kind: [(user, action) for user, action in items] for kind, items in doc["actions"].items()},
        mobiles=doc["mobiles"],
    )


def _save(path: Path, corpus: Corpus) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    doc = {
        "days": [d.isoformat() for d in corpus.days],
        "seed": corpus.seed,
        "citizens": corpus.citizens,
        "actions": corpus.actions,
        "mobiles": corpus.mobiles,
    }
    tmp = path.with_suffix(".tmp")
    tmp.write_bytes(msgspec.msgpack.encode(doc))
    tmp.replace(path)
    older = sorted(path.parent.glob("corpus-*.msgpack"), key=lambda p: p.stat().st_mtime, reverse=True)
    for stale in older[CACHE_KEEP:]:
        stale.unlink(missing_ok=True)
