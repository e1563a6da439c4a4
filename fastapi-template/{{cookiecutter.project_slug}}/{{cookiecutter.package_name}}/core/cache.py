"""Cache-aside for item reads in Redis.

Keys are `item:<id>`, each holding the item's JSON and ETag for CACHE_TTL_SECONDS.
Every write deletes the key. Redis is an optimisation here, never a dependency: any Redis
error is logged and the request carries on against the database.
"""

import logging
from typing import cast

from redis.asyncio import Redis
from redis.exceptions import RedisError

logger = logging.getLogger(__name__)


def create_redis(url: str) -> Redis:
    # Short timeouts: a Redis that is down must not hold requests up.
    return Redis.from_url(url, socket_connect_timeout=0.5, socket_timeout=0.5)


class ItemCache:
    def __init__(self, redis: Redis, ttl_seconds: int) -> None:
        self.redis = redis
        self.ttl_seconds = ttl_seconds

    @staticmethod
    def key(item_id: int) -> str:
        return f"item:{item_id}"

    async def get(self, item_id: int) -> bytes | None:
        try:
            # decode_responses is off, so Redis answers bytes (or None for a miss).
            return cast(bytes | None, await self.redis.get(self.key(item_id)))
        except (RedisError, OSError) as exc:
            logger.warning("Cache read bypassed: %s", exc)
            return None

    async def set(self, item_id: int, entry: bytes) -> None:
        try:
            await self.redis.set(self.key(item_id), entry, ex=self.ttl_seconds)
        except (RedisError, OSError) as exc:
            logger.warning("Cache write skipped: %s", exc)

    async def delete(self, item_id: int) -> None:
        try:
            await self.redis.delete(self.key(item_id))
        except (RedisError, OSError) as exc:
            logger.warning("Cache invalidation failed: %s", exc)
