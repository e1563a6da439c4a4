"""Cache-aside for item reads in Redis.

Keys are `item:<id>`, each holding the item's JSON and ETag for CACHE_TTL_SECONDS.
Every write deletes the key. Redis is an optimisation here, never a dependency: any Redis
error is logged and the request carries on against the database.
"""

import asyncio
import logging
from typing import cast

from redis.asyncio import BlockingConnectionPool, Redis
from redis.exceptions import RedisError

logger = logging.getLogger(__name__)

# Connections to Redis per worker process; a request beyond them waits for one to be free.
# Unbounded, a burst of 1,000 concurrent reads opened hundreds of connections at once, whose
# connects timed out on the busy event loop, and each of those reads went to the database
# instead. At 1,000 connections (2 workers) that held 305-328 of them through the window, with
# 2.4-2.8% errors; 8 per worker held 687-754, with 0.9-1.2%, at the same requests/s. At 64
# connections the cached read measured the same either way.
REDIS_POOL_SIZE = 8
# How long a request waits for a free connection before it goes without the cache.
REDIS_POOL_WAIT_SECONDS = 2.0


# How long a cache operation may take in all, its wait for a connection included, before
# the request goes on without Redis: the pool's wait, then half a second for the reply.
REDIS_DEADLINE_SECONDS = REDIS_POOL_WAIT_SECONDS + 0.5


def create_redis(url: str) -> Redis:
    """The worker's Redis client. Its callers bound their commands with `redis_deadline()`.

    A Redis that is down or hung must not hold requests up. The bound is the caller's
    `asyncio.timeout` rather than redis-py's `socket_timeout`: with that set, redis-py runs
    every command's write through `asyncio.wait_for`, a task of its own per command, which
    cost the cached read 8% of its throughput with one worker (2,965 requests/s against
    3,212). A command cut short drops its connection, so none is reused mid-reply.
    """
    pool = BlockingConnectionPool.from_url(
        url,
        max_connections=REDIS_POOL_SIZE,
        timeout=REDIS_POOL_WAIT_SECONDS,
        socket_connect_timeout=0.5,
    )
    return Redis(connection_pool=pool)


def redis_deadline() -> asyncio.Timeout:
    return asyncio.timeout(REDIS_DEADLINE_SECONDS)


class ItemCache:
    def __init__(self, redis: Redis, ttl_seconds: int) -> None:
        self.redis = redis
        self.ttl_seconds = ttl_seconds

    @staticmethod
    def key(item_id: int) -> str:
        return f"item:{item_id}"

    async def get(self, item_id: int) -> bytes | None:
        try:
            async with redis_deadline():
                # decode_responses is off, so Redis answers bytes (or None for a miss).
                return cast(bytes | None, await self.redis.get(self.key(item_id)))
        except (RedisError, OSError) as exc:  # TimeoutError is an OSError
            logger.warning("Cache read bypassed: %r", exc)
            return None

    async def set(self, item_id: int, entry: bytes) -> None:
        try:
            async with redis_deadline():
                await self.redis.set(self.key(item_id), entry, ex=self.ttl_seconds)
        except (RedisError, OSError) as exc:
            logger.warning("Cache write skipped: %r", exc)

    async def delete(self, item_id: int) -> None:
        try:
            async with redis_deadline():
                await self.redis.delete(self.key(item_id))
        except (RedisError, OSError) as exc:
            logger.warning("Cache invalidation failed: %r", exc)
