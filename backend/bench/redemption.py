"""The redemption phase of `tanhui bench` (`--redeem-seconds S`, alone with `--redeem-only`).

A database of its own and one `tanhui serve` process. In this process: a merchant, a till, an
offer, and a funded citizen per redemption (set up through the platform's own use cases). Then:

1. rate: at `--redeem-rate` redemptions/s, open loop, each a citizen's reservation (HTTP) and the
   till's redemption of its code (HTTP); latency of each, from the moment it was due;
2. one wallet: 500 reservations at once against one citizen funded for 50 units; how many went
   through (must be 50) and whether any balance went below zero (must not);
3. one code: 500 redemptions of one code at once (must pay once);

then the merchant's balance, the day's statement and the ledger are reconciled.
"""

from __future__ import annotations

import asyncio
import itertools
import secrets
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson
from rich.console import Console
from sqlalchemy import func, select

from backend.bench import population, processes
from backend.bench.database import BenchDatabase
from backend.bench.stats import latency_summary
from backend.bench.ui import progress
from backend.bench.wire import Connection, WireError
from backend.context import Platform
from backend.ledger_store import post
from backend.merchants import directory, offers
from backend.merchants.schemas import OfferCreate
from backend.models import LedgerBalance
from backend.redemption import statements
from backend.settings import Settings
from points_engine.certification import SHANGHAI
from points_engine.ledger import Account, certify_run_tx, settle_tx

PRICE = 10
WALLET_UNITS = 50
RACERS = 500
FUND_CHUNK = 1000
TARGET_P99_MS = 50.0
TARGET_RATE = 200.0
BALANCES = LedgerBalance.__table__  # type: ignore[attr-defined]


def measure(
    db: BenchDatabase,
    base: Settings,
    run_dir: Path,
    prefix: str,
    rate: float,
    seconds: float,
    console: Console,
    apis: int = 1,
) -> dict[str, Any]:
    db.create()
    keys = {name: secrets.token_urlsafe(32) for name in population.SECRET_NAMES}
    settings, env = population.platform_config(base, db, run_dir, prefix, keys)
    env.update(TANHUI_WORKERS="false")
    procs = [
        processes.start(
            f"redeem-api-{n}", "api", ["serve"], {**env, "TANHUI_PORT": str(processes.free_port())}, run_dir
        )
        for n in range(apis)
    ]
    try:
        processes.wait_ready(procs)
        ports = [p.port or 0 for p in procs]
        result = asyncio.run(_drive(settings, ports, rate, seconds, console))
        result["api_processes"] = apis
        result["api_rss_mb"] = [p.hwm_mb() for p in procs]
        return {"database": db.where, **result}
    finally:
        processes.stop(procs)


async def _drive(
    settings: Settings, ports: list[int], rate: float, seconds: float, console: Console
) -> dict[str, Any]:
    platform = await Platform.open(settings)
    try:
        count = max(1, int(rate * seconds))
        shop, till, citizens = await _setup(platform, count, console)
        client = Client(ports)
        try:
            rated = await _at_rate(client, platform, shop, till, citizens, rate, console)
            await client.close()
            wallet = await _one_wallet(client, platform, shop, console)
            await client.close()
            code = await _one_code(client, platform, shop, till)
        finally:
            await client.close()
        checks = await _reconcile(platform, shop["merchant_id"], rated["redeemed"] + code["paid"])
        return {
            "rate": rated,
            "one_wallet": wallet,
            "one_code": code,
            "reconcile": checks,
            "targets": {
                "redeem_p99_ms": {
                    "target": f"< {TARGET_P99_MS:.0f} at {TARGET_RATE:.0f}/s",
                    "measured": rated["redeem_ms"]["p99"],
                    "rate": rated["achieved_per_s"],
                    "met": _met(rated),
                },
                "overdraft": {
                    "target": "0 at 500 concurrent spends",
                    "measured": wallet["overdraft_points"],
                    "met": wallet["overdraft_points"] == 0 and wallet["reserved"] == WALLET_UNITS,
                },
            },
        }
    finally:
        await platform.close()


async def _setup(platform: Platform, count: int, console: Console) -> tuple[dict[str, Any], str, list[str]]:
    now = datetime.now(UTC)
    merchant_id = f"m_bench_{secrets.token_hex(3)}"
    await directory.create_merchant(platform.db, merchant_id, "Bench tea house", "shantou", "bench")
    staff = await directory.add_staff(platform, merchant_id, "Bench till", "bench")
    offer = await offers.create_offer(
        platform.db,
        OfferCreate(
            merchant_id=merchant_id, title="Bench tea", price_points=PRICE, stock=count + 2 * RACERS,
            per_citizen_limit=WALLET_UNITS, valid_from=now - timedelta(hours=1),
            valid_until=now + timedelta(days=1),
        ),
        "bench",
    )  # fmt: skip
    citizens = [f"c_bench_{n:07d}" for n in range(count)]
    with progress(console) as bar:
        task = bar.add_task("funding citizens", total=count, note="settle + certify-run")
        for start in range(0, count, FUND_CHUNK):
            chunk = citizens[start : start + FUND_CHUNK]
            async with platform.db.transaction() as tx:
                txs = [t for c in chunk for t in _grant(c, PRICE)]
                await post(tx.conn, txs, now)
            bar.advance(task, len(chunk))
    shop = {"merchant_id": merchant_id, "offer_id": offer.offer_id}
    return shop, staff.access_token, citizens


def _grant(citizen_id: str, points: int) -> tuple[Any, Any]:
    return (
        settle_tx("shantou", citizen_id, f"bench/{citizen_id}", points),
        certify_run_tx("run_bench", citizen_id, points),
    )


def _citizen(platform: Platform, citizen_id: str) -> str:
    return "Bearer " + platform.tokens.mint(citizen_id, "citizen", 3600, int(time.time()))


class Client:
    """Keep-alive connections to the platform, lent one request (or pair) at a time. The bench's
    own cheap HTTP (backend.bench.wire): a client library's pool costs more CPU than the server."""

    # uvicorn closes a keep-alive connection idle for 5 s; a request sent on it as it closes fails
    # through no fault of the server. Connections idle longer than this are not lent again.
    STALE_S = 3.0

    def __init__(self, ports: list[int]) -> None:
        self.ports = itertools.cycle(ports)  # new connections take the API processes in turn
        self.idle: list[tuple[float, Connection]] = []

    async def post(self, path: str, document: dict[str, Any], auth: str) -> tuple[int, dict[str, Any]]:
        """(status, body); a connection the server broke is status 0, never an exception."""
        conn = await self._lend()
        try:
            status, body = await conn.post(path, orjson.dumps(document), auth)
        except WireError as exc:
            return 0, {"type": f"connection/{str(exc).split(':', 1)[0]}"}
        self.idle.append((time.monotonic(), conn))
        return status, orjson.loads(body) if body else {}

    async def _lend(self) -> Connection:
        while self.idle:
            used, conn = self.idle.pop()
            if time.monotonic() - used < self.STALE_S:
                return conn
            await conn.close()
        return Connection("127.0.0.1", next(self.ports))

    async def close(self) -> None:
        """Close every idle connection (between phases, so none goes stale)."""
        idle, self.idle = self.idle, []
        for _, conn in idle:
            await conn.close()


async def _at_rate(
    client: Client,
    platform: Platform,
    shop: dict[str, Any],
    till: str,
    citizens: list[str],
    rate: float,
    console: Console,
) -> dict[str, Any]:
    staff = f"Bearer {till}"
    headers = [_citizen(platform, c) for c in citizens]
    reserve_s: list[float] = []
    redeem_s: list[float] = []
    statuses: Counter[str] = Counter()

    offer_id = shop["offer_id"]

    async def one(index: int, due: float) -> None:
        status, answer = await client.post("/v1/citizen/reservations", {"offer_id": offer_id}, headers[index])
        reserved = time.perf_counter()
        reserve_s.append(reserved - due)
        statuses[f"reserve {status or answer['type']}"] += 1
        if status != 201:
            return
        paid, why = await client.post("/v1/merchant/redemptions", {"code": answer["code"]["token"]}, staff)
        redeem_s.append(time.perf_counter() - reserved)
        statuses[f"redeem {paid or why['type']}"] += 1

    with progress(console) as bar:
        task = bar.add_task(f"redemptions at {rate:.0f}/s", total=len(citizens), note="reserve + redeem")
        start = time.perf_counter() + 0.2
        tasks = []
        for index in range(len(citizens)):
            due = start + index / rate
            delay = due - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            tasks.append(asyncio.create_task(one(index, due)))
            if index % 50 == 49:
                bar.update(task, completed=index + 1)
        await asyncio.gather(*tasks)
        bar.update(task, completed=len(citizens))
    elapsed = time.perf_counter() - start
    redeemed = statuses.get("redeem 200", 0)
    return {
        "requested_per_s": rate,
        "achieved_per_s": round(redeemed / elapsed, 1) if elapsed > 0 else None,
        "redemptions": len(citizens),
        "redeemed": redeemed,
        "statuses": dict(sorted(statuses.items())),
        "reserve_ms": latency_summary(reserve_s),
        "redeem_ms": latency_summary(redeem_s),
        "seconds": round(elapsed, 2),
    }


async def _one_wallet(
    client: Client, platform: Platform, shop: dict[str, Any], console: Console
) -> dict[str, Any]:
    citizen = f"c_bench_wallet_{secrets.token_hex(3)}"
    async with platform.db.transaction() as tx:
        await post(tx.conn, list(_grant(citizen, PRICE * WALLET_UNITS)), datetime.now(UTC))
    headers = _citizen(platform, citizen)
    console.print(f"{RACERS} reservations at once against one wallet funded for {WALLET_UNITS} units")
    offer = {"offer_id": shop["offer_id"]}
    answers = await asyncio.gather(
        *[client.post("/v1/citizen/reservations", offer, headers) for _ in range(RACERS)]
    )
    codes = Counter(status if status < 400 else body["type"].rsplit("/", 1)[1] for status, body in answers)
    balances = {kind: await _balance(platform, account) for kind, account in
                (("available", Account.available(citizen)), ("held", Account.held(citizen)))}  # fmt: skip
    overdraft = max(0, -balances["available"]) + max(0, -balances["held"]) + await _negative_total(platform)
    return {
        "racers": RACERS,
        "funded_units": WALLET_UNITS,
        "reserved": codes.get(201, 0),
        "answers": {str(k): v for k, v in sorted(codes.items(), key=str)},
        "balances": balances,
        "overdraft_points": overdraft,
    }


async def _one_code(client: Client, platform: Platform, shop: dict[str, Any], till: str) -> dict[str, Any]:
    citizen = f"c_bench_code_{secrets.token_hex(3)}"
    async with platform.db.transaction() as tx:
        await post(tx.conn, list(_grant(citizen, PRICE)), datetime.now(UTC))
    _, made = await client.post(
        "/v1/citizen/reservations", {"offer_id": shop["offer_id"]}, _citizen(platform, citizen)
    )
    token = made["code"]["token"]
    answers = await asyncio.gather(
        *[client.post("/v1/merchant/redemptions", {"code": token}, f"Bearer {till}") for _ in range(RACERS)]
    )
    codes = Counter(status for status, _ in answers)
    return {
        "racers": RACERS,
        "paid": codes.get(200, 0),
        "answers": {str(k): v for k, v in sorted(codes.items())},
    }


async def _reconcile(platform: Platform, merchant_id: str, redeemed: int) -> dict[str, Any]:
    merchant = await _balance(platform, Account.merchant(merchant_id))
    today = datetime.now(SHANGHAI).date()
    statement = await statements.daily(platform.db, merchant_id, today)
    async with platform.db.read() as conn:
        total = int((await conn.execute(select(func.coalesce(func.sum(BALANCES.c.balance), 0)))).scalar_one())
    return {
        "merchant_points": merchant,
        "expected_points": redeemed * PRICE,
        "statement_reconciled": statement.reconciled and statement.closing == merchant,
        "ledger_sums_to_zero": total == 0,
        "negative_points": await _negative_total(platform),
        "ok": merchant == redeemed * PRICE and statement.reconciled and total == 0,
    }


async def _balance(platform: Platform, account: Account) -> int:
    async with platform.db.read() as conn:
        query = select(func.coalesce(func.sum(BALANCES.c.balance), 0)).where(
            BALANCES.c.account == str(account)
        )
        return int((await conn.execute(query)).scalar_one())


async def _negative_total(platform: Platform) -> int:
    """Points below zero over every account that may not go negative (sources excluded)."""
    async with platform.db.read() as conn:
        rows = await conn.execute(
            select(BALANCES.c.account, func.sum(BALANCES.c.balance).label("b"))
            .group_by(BALANCES.c.account)
            .having(func.sum(BALANCES.c.balance) < 0)
        )
        return sum(-int(b) for a, b in rows if not Account.parse(a).may_go_negative)


def _met(rated: dict[str, Any]) -> bool:
    p99 = rated["redeem_ms"]["p99"]
    achieved = rated["achieved_per_s"] or 0
    return (
        p99 is not None
        and p99 < TARGET_P99_MS
        and achieved >= 0.95 * min(TARGET_RATE, rated["requested_per_s"])
    )
