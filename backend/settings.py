"""One settings object, read from the environment (prefix ``TANHUI_``).

With nothing set, the platform runs embedded: SQLite under ``./var/`` and a Redis
server the platform starts itself. Secrets that are not given are generated once
into ``./var/secrets.json`` so that every process of one installation agrees.
"""

from __future__ import annotations

import json
import os
import secrets
from functools import cached_property
from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


def _generated_secret(var_dir: Path, name: str) -> str:
    path = var_dir / "secrets.json"
    var_dir.mkdir(parents=True, exist_ok=True)
    data: dict[str, str] = json.loads(path.read_text()) if path.exists() else {}
    if name not in data:
        data[name] = secrets.token_urlsafe(32)
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(data, indent=2))
        os.chmod(tmp, 0o600)
        tmp.replace(path)
    return data[name]


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="TANHUI_", env_file=".env", extra="ignore")

    var_dir: Path = Path("var")
    database_url: str = ""  # empty: sqlite+aiosqlite:///<var_dir>/tanhui.db
    redis_url: str = ""  # empty: start an embedded redis-server under <var_dir>/redis
    redis_prefix: str = "tanhui"

    host: str = "127.0.0.1"
    port: int = 8000
    public_url: str = ""  # how partners reach us; empty: http://host:port

    # Secrets. Empty: generated once into var/secrets.json (embedded default only).
    secret_key: str = Field(default="", repr=False)  # encrypts partner secrets at rest
    pii_key: str = Field(default="", repr=False)  # keys the hash of mobile numbers
    jwt_key: str = Field(default="", repr=False)  # signs citizen and operator tokens (HS256)

    jwt_issuer: str = "https://tanhui.example"
    citizen_token_ttl_s: int = 900
    operator_token_ttl_s: int = 3600

    clock_skew_s: int = 300
    nonce_ttl_s: int = 600
    max_body_bytes: int = 1024 * 1024
    max_batch: int = 1000
    max_action_age_s: int = 7 * 24 * 3600
    max_action_future_s: int = 300

    workers: bool = True  # run background workers inside `tanhui serve`
    # FastAPI's OpenTelemetry spans, metrics and logs, for a process whose OpenTelemetry providers are
    # configured. Off, FastAPI skips its per-request check for providers (~4 % of the API's CPU for
    # single actions, py-spy).
    telemetry: bool = False
    # PostgreSQL connections per process; waiting longer than the timeout for one is a 503.
    db_pool_size: int = 10
    db_max_overflow: int = 20
    db_pool_timeout_s: float = 30.0

    # Settlement. Changing the number of partitions needs drained streams (docs/ARCHITECTURE.md).
    settle_partitions: int = 8
    settle_batch: int = 2000  # most actions settled in one transaction
    settle_block_ms: int = 200  # how long a worker waits on an empty stream
    # After reading fewer than settle_batch actions a worker waits for more, until the next multiple
    # of this period (one tick for all its partitions, whose batches then share a transaction), so
    # that actions arriving one by one settle several to a transaction (~3 ms of CPU each, whatever
    # it holds: at 300 single actions/s the worker took 0.64 cores without a linger, 0.21 with
    # 200 ms). Outcomes are later by up to as much.
    settle_linger_ms: int = Field(default=100, ge=0, le=1000)
    lease_s: float = 15.0  # a partition's owner renews its lease every lease_s / 3
    sweep_grace_s: float = 30.0  # an accepted action unsettled this long (and no backlog) is republished
    sweep_interval_s: float = 5.0
    # Certification runs by the workers: each book's previous and current month, once per interval.
    certify_interval_s: float = 24 * 3600.0  # 0: never (runs only from the admin API and CLI)
    # Expiry of available points, oldest first (docs/expiry.md): calendar months in Asia/Shanghai.
    points_validity_months: int = Field(default=24, ge=1, le=1200)
    expiry_interval_s: float = 3600.0  # 0: never (sweeps only from `tanhui expire`)
    # Campaign bonuses granted by the workers, every interval (docs/campaigns.md).
    campaign_interval_s: float = 10.0  # 0: never
    # Redemptions: how long a reservation (and its code) lives, how long a merchant may reverse one.
    reservation_ttl_s: int = 600
    reversal_window_s: int = 24 * 3600
    reservation_sweep_interval_s: float = 30.0  # 0: never (expired holds are then voided lazily)

    @cached_property
    def effective_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        self.var_dir.mkdir(parents=True, exist_ok=True)
        return f"sqlite+aiosqlite:///{(self.var_dir / 'tanhui.db').resolve()}"

    @property
    def is_sqlite(self) -> bool:
        return self.effective_database_url.startswith("sqlite")

    @property
    def base_url(self) -> str:
        return self.public_url or f"http://{self.host}:{self.port}"

    def secret(self, name: str) -> str:
        """The named secret: from the environment, else generated once under var/."""
        value: str = getattr(self, name)
        return value or _generated_secret(self.var_dir, name)


def get_settings() -> Settings:
    return Settings()
