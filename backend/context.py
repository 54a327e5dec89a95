"""The platform's shared resources, built once per process by ``create_app`` or the CLI."""

from __future__ import annotations

from dataclasses import dataclass

import redis.asyncio as aioredis

from backend.auth.partners import PartnerDirectory
from backend.auth.tokens import TokenService
from backend.crypto import SecretBox
from backend.db import Database
from backend.embedded_redis import EmbeddedRedis
from backend.methodologies import MethodologyRegistry
from backend.redis import Keys, connect
from backend.settings import Settings


@dataclass
class Platform:
    settings: Settings
    db: Database
    redis: aioredis.Redis
    keys: Keys
    box: SecretBox
    partners: PartnerDirectory
    tokens: TokenService
    methodologies: MethodologyRegistry
    embedded_redis: EmbeddedRedis | None = None

    @classmethod
    async def open(cls, settings: Settings) -> Platform:
        embedded = None if settings.redis_url else EmbeddedRedis(settings.var_dir).start()
        db = Database(settings.effective_database_url)
        redis = await connect(settings, embedded)
        keys = Keys(settings.redis_prefix)
        box = SecretBox(settings.secret("secret_key"))
        return cls(
            settings=settings,
            db=db,
            redis=redis,
            keys=keys,
            box=box,
            partners=PartnerDirectory(db, redis, keys, box),
            tokens=TokenService(settings.secret("jwt_key"), settings.jwt_issuer),
            methodologies=MethodologyRegistry(db, redis, keys),
            embedded_redis=embedded,
        )

    def pii_hash_key(self) -> str:
        return self.settings.secret("pii_key")

    async def close(self) -> None:
        await self.redis.aclose()
        await self.db.dispose()
        if self.embedded_redis is not None:
            self.embedded_redis.stop()
