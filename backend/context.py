"""The platform's shared resources, built once per process by ``create_app`` or the CLI."""

from __future__ import annotations

import hmac
from dataclasses import dataclass
from functools import cached_property

import redis.asyncio as aioredis

from backend.auth.partners import PartnerDirectory
from backend.auth.tokens import TokenService
from backend.crypto import SecretBox
from backend.db import Database
from backend.embedded_redis import EmbeddedRedis
from backend.methodologies import MethodologyRegistry
from backend.pg import HotPool, hot_pool
from backend.redis import Keys, connect
from backend.redis_hot import HotRedis
from backend.settings import Settings


@dataclass
class Platform:
    settings: Settings
    db: Database
    redis: aioredis.Redis
    hot: HotRedis  # the hot path's short commands, on one pipelined connection
    keys: Keys
    box: SecretBox
    partners: PartnerDirectory
    tokens: TokenService
    methodologies: MethodologyRegistry
    embedded_redis: EmbeddedRedis | None = None
    pg: HotPool | None = None  # raw psycopg for the hot paths; None on SQLite

    @classmethod
    async def open(cls, settings: Settings) -> Platform:
        embedded = None if settings.redis_url else EmbeddedRedis(settings.var_dir).start()
        db = Database(
            settings.effective_database_url,
            pool_size=settings.db_pool_size,
            max_overflow=settings.db_max_overflow,
            pool_timeout_s=settings.db_pool_timeout_s,
        )
        redis = await connect(settings, embedded)
        hot = HotRedis(settings.redis_url or (embedded.url if embedded else ""))
        keys = Keys(settings.redis_prefix)
        box = SecretBox(settings.secret("secret_key"))
        return cls(
            settings=settings,
            db=db,
            redis=redis,
            hot=hot,
            keys=keys,
            box=box,
            partners=PartnerDirectory(db, redis, hot, keys, box),
            tokens=TokenService(settings.secret("jwt_key"), settings.jwt_issuer),
            methodologies=MethodologyRegistry(db, hot, keys),
            embedded_redis=embedded,
            pg=hot_pool(
                settings.effective_database_url,
                size=settings.db_pool_size,
                timeout_s=settings.db_pool_timeout_s,
            ),
        )

    def pii_hash_key(self) -> str:
        return self.settings.secret("pii_key")

    @cached_property
    def redemption_key(self) -> bytes:
        """Signs redemption codes: derived from the token key, so it rotates with it."""
        key = self.settings.secret("jwt_key").encode()
        return hmac.new(key, b"tanhui redemption codes v1", "sha256").digest()

    async def close(self) -> None:
        await self.hot.aclose()
        await self.redis.aclose()
        if self.pg is not None:
            await self.pg.close()
        await self.db.dispose()
        if self.embedded_redis is not None:
            self.embedded_redis.stop()
