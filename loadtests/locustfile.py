"""Load test of partner intake: signed 1,000-action batches and single actions, as partners send them.

- `PartnerUser` posts batches of `TANHUI_LOAD_BATCH` (default 1,000) actions to /v1/partner/actions.
- `SingleActionUser` posts one action per request.

Bodies are generated once per process from the transit and bike simulators (a realistic mix of trips
of `TANHUI_LOAD_CITIZENS` citizens on `TANHUI_LOAD_DAY`, default yesterday) and every request gets
fresh event ids (`lt<run>-<worker>-<request>-<item>`), so no action is ever a duplicate. The
citizens are bound at start-up, before the run's clock starts (already bound is fine), by the
master when distributed, or else in the first user's `on_start` (web UI without --host). Every
request is signed with the SDK's `authorization_header`: its own timestamp and nonce over the
exact bytes sent.

Besides Locust's request stats, the actions accepted, duplicated and rejected are counted across
workers, logged every 10 s and at the end as actions/s. See loadtests/README.md for the command.
"""

from __future__ import annotations

import importlib.util
import itertools
import json
import logging
import os
import sys
import time
from collections import Counter
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from functools import cache
from pathlib import Path

import gevent
import httpx
from gevent.lock import Semaphore
from gevent.pool import Pool
from locust import HttpUser, constant, events, task
from locust.runners import MasterRunner, WorkerRunner

if importlib.util.find_spec("partners") is None:  # run from anywhere, not only the repository's root
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from partners.sdk import Credentials, authorization_header
from partners.simulators import GENERATORS

log = logging.getLogger("tanhui.load")
logging.getLogger("httpx").setLevel(logging.WARNING)  # not one line per binding request
ACTIONS_PATH = "/v1/partner/actions"
BINDINGS_PATH = "/v1/partner/bindings"
RUN = f"{int(time.time()) % 36**5:x}{os.getpid() % 4096:x}"  # a new id space every run: never a duplicate
REQUESTS = itertools.count()
TOTALS: Counter[str] = Counter()  # actions sent/accepted/duplicates/rejected on this node


def _env(name: str, default: str | None = None) -> str:
    value = os.environ.get(name, default)
    if value is None:
        raise RuntimeError(f"set {name} (see loadtests/README.md)")
    return value


@cache
def credentials() -> Credentials:
    return Credentials(
        partner_id=_env("TANHUI_LOAD_PARTNER"),
        key_id=_env("TANHUI_LOAD_KEY_ID"),
        secret=_env("TANHUI_LOAD_SECRET"),
    )


@dataclass(frozen=True)
class Corpus:
    """Actions serialised once, without their event id, so a body costs one join per request."""

    bindings: list[tuple[str, str]]
    tails: list[str]  # each action's JSON after `{"event_id":"…",`

    def body(self, prefix: str, size: int, start: int) -> bytes:
        n = len(self.tails)
        items = (f'{{"event_id":"{prefix}{i}",{self.tails[(start + i) % n]}' for i in range(size))
        return ('{"actions":[' + ",".join(items) + "]}").encode()


@cache
def corpus() -> Corpus:
    shanghai = timezone(timedelta(hours=8))
    day = date.fromisoformat(
        os.environ.get("TANHUI_LOAD_DAY") or str(datetime.now(shanghai).date() - timedelta(1))
    )
    citizens, seed = int(_env("TANHUI_LOAD_CITIZENS", "1000")), int(_env("TANHUI_LOAD_SEED", "1"))
    bindings, tails = [], []
    for kind in ("transit", "bike"):
        traffic = GENERATORS[kind].day(day, citizens, seed)
        bindings += traffic.bindings
        for action in traffic.actions:
            rest = {key: value for key, value in action.items() if key != "event_id"}
            tails.append(json.dumps(rest, separators=(",", ":"), ensure_ascii=False)[1:])
    tails.sort(key=lambda tail: tail[tail.index('"occurred_at"') :])  # interleave the two partners by time
    log.info("corpus: %d actions of %d users on %s", len(tails), len(bindings), day)
    return Corpus(bindings, tails)


_bound: list[str] = []  # the host bound, once done (or left to the master, on a worker)
_binding = Semaphore()


def ensure_bound(host: str) -> None:
    """Bind every user of the corpus once per process (20 at a time); later callers wait for it."""
    with _binding:
        if _bound:
            return
        creds, refused = credentials(), Counter[int]()
        with httpx.Client(base_url=host, timeout=30.0) as http:

            def bind(pair: tuple[str, str]) -> None:
                body = json.dumps({"user": pair[0], "mobile": pair[1]}).encode()
                headers = {"Authorization": authorization_header(creds, "POST", BINDINGS_PATH, body)}
                status = http.post(BINDINGS_PATH, content=body, headers=headers).status_code
                if status != 200:
                    refused[status] += 1

            Pool(20).map(bind, corpus().bindings)
        if refused:  # 409: bound earlier to another mobile (another population seed); its actions may fail
            log.warning("bindings refused: %s", dict(refused))
        log.info("bound %d users", len(corpus().bindings))
        _bound.append(host)


@events.init.add_listener
def _prepare(environment, **_kwargs) -> None:
    """Build the bodies, and bind the users before the run's clock starts.

    Standalone, the process binds; distributed (or `--processes`), the master binds once before it
    starts the run and the workers leave it to the master.
    """
    try:
        credentials()
    except RuntimeError as error:
        sys.exit(str(error))
    corpus()
    if isinstance(environment.runner, WorkerRunner):
        _bound.append("left to the master")
    elif environment.host:
        try:
            ensure_bound(environment.host)
        except httpx.HTTPError as error:
            log.warning("binding at start-up failed (%s); the first user will retry", error)


class _SignedActions(HttpUser):
    abstract = True
    wait_time = constant(0)
    size = 1

    def on_start(self) -> None:
        ensure_bound(self.host)
        self.worker = getattr(self.environment.runner, "worker_index", 0)

    @task
    def report(self) -> None:
        request = next(REQUESTS)
        body = corpus().body(f"lt{RUN}-{self.worker}-{request}-", self.size, request * self.size)
        headers = {
            "Authorization": authorization_header(credentials(), "POST", ACTIONS_PATH, body),
            "Content-Type": "application/json",
        }
        name = f"{ACTIONS_PATH} [{self.size}]"
        with self.client.post(
            ACTIONS_PATH, data=body, headers=headers, name=name, catch_response=True
        ) as answer:
            TOTALS["sent"] += self.size
            if answer.status_code != 202:
                answer.failure(f"HTTP {answer.status_code}: {answer.text[:200]}")
                return
            counts = answer.json()
            for key in ("accepted", "duplicates", "rejected"):
                TOTALS[key] += int(counts.get(key, 0))
            if counts.get("rejected"):
                first = next(r for r in counts["results"] if r["status"] == "rejected")
                answer.failure(f"{counts['rejected']} rejected, e.g. {first.get('problem', {}).get('type')}")


class PartnerUser(_SignedActions):
    """A partner sending full batches: the intake throughput benchmark."""

    size = int(os.environ.get("TANHUI_LOAD_BATCH", "1000"))


class SingleActionUser(_SignedActions):
    """A partner sending one action per request: the per-request overhead."""

    size = 1


# --- actions/s across workers -------------------------------------------------------------------------
_clock: dict[str, float | None] = {"start": None, "stop": None}  # monotonic, of the current test


@events.report_to_master.add_listener
def _send_totals(client_id: str, data: dict) -> None:
    data["tanhui_actions"] = dict(TOTALS)
    TOTALS.clear()  # workers send deltas; the master sums them


@events.worker_report.add_listener
def _receive_totals(client_id: str, data: dict) -> None:
    TOTALS.update(data.get("tanhui_actions", {}))


def _line() -> str:
    start, stop = _clock["start"], _clock["stop"] or time.monotonic()
    seconds = stop - start if start is not None else 0.0
    rate = TOTALS["accepted"] / seconds if seconds > 0 else 0.0
    return (
        f"actions: sent {TOTALS['sent']:,}, accepted {TOTALS['accepted']:,}, "
        f"duplicates {TOTALS['duplicates']:,}, rejected {TOTALS['rejected']:,} "
        f"in {seconds:.1f} s = {rate:,.0f} accepted actions/s"
    )


@events.test_start.add_listener
def _on_test_start(environment, **_kwargs) -> None:
    TOTALS.clear()
    _clock.update(start=time.monotonic(), stop=None)
    if isinstance(environment.runner, WorkerRunner):
        return

    def every_10_s() -> None:
        while True:
            gevent.sleep(10)
            log.info(_line())

    environment.tanhui_ticker = gevent.spawn(every_10_s)


@events.test_stop.add_listener
def _on_test_stop(environment, **_kwargs) -> None:
    if isinstance(environment.runner, WorkerRunner) or _clock["stop"] is not None:
        return  # Locust may fire test_stop twice (stop, then quit)
    _clock["stop"] = time.monotonic()
    ticker = getattr(environment, "tanhui_ticker", None)
    if ticker is not None:
        ticker.kill()
    if not isinstance(environment.runner, MasterRunner):
        log.info(_line())  # standalone: final; a master still awaits its workers' last reports


@events.quitting.add_listener
def _on_quitting(environment, **_kwargs) -> None:
    if isinstance(environment.runner, MasterRunner) and _clock["start"] is not None:
        log.info(_line())
