"""Login throttling: failed attempts counted per (username, client address).

After LOGIN_RATE_LIMIT failures (say 5/minute) the pair is refused until the oldest of them
is a window's length old: a moving window, not a minute on the clock that starts afresh.
{%- if cookiecutter.use_celery %}
With Redis (REDIS_URL) every worker process shares the count, under keys that start with
`login:`; without it, each process counts its own. A Redis error surfaces as limits'
StorageError, which core/errors.py turns into a 503, and so does a Redis that has not answered
by the cache's deadline (core/cache.py).
{%- else %}
Each worker process counts its own failures, in memory.
{%- endif %}
"""

import math
import time
{%- if cookiecutter.use_celery %}
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
{%- endif %}

from limits import parse
{%- if cookiecutter.use_celery %}
from limits.aio.storage import MemoryStorage, RedisStorage, Storage
{%- else %}
from limits.aio.storage import MemoryStorage
{%- endif %}
from limits.aio.strategies import MovingWindowRateLimiter
{%- if cookiecutter.use_celery %}
from limits.errors import StorageError
from redis.asyncio import Redis

from {{ cookiecutter.package_name }}.core.cache import redis_deadline

KEY_PREFIX = "login"


def create_storage(redis: Redis | None) -> Storage:
    if redis is None:
        return MemoryStorage()
    # limits runs its commands through the service's own connection pool, so the URL only
    # names the protocol. limits types the options it passes on to redis-py as plain
    # values, hence the ignore.
    return RedisStorage(
        "async+redis://",
        implementation="redispy",
        key_prefix=KEY_PREFIX,
        wrap_exceptions=True,
        connection_pool=redis.connection_pool,  # type: ignore[arg-type]
    )


@asynccontextmanager
async def storage_deadline() -> AsyncIterator[None]:
    """The cache's deadline on the throttle's Redis commands, overrun as a StorageError."""
    try:
        async with redis_deadline():
            yield
    except TimeoutError as error:
        raise StorageError(error) from error
{%- endif %}


class LoginThrottle:
{%- if cookiecutter.use_celery %}
    def __init__(self, rate_limit: str, redis: Redis | None = None) -> None:
        self.limit = parse(rate_limit)
        self.limiter = MovingWindowRateLimiter(create_storage(redis))
{%- else %}
    def __init__(self, rate_limit: str) -> None:
        self.limit = parse(rate_limit)
        self.limiter = MovingWindowRateLimiter(MemoryStorage())
{%- endif %}

    async def retry_after(self, username: str, address: str) -> int | None:
        """Whole seconds until this pair may try again; None while it still may."""
{%- if cookiecutter.use_celery %}
        async with storage_deadline():
            if await self.limiter.test(self.limit, username, address):
                return None
            window = await self.limiter.get_window_stats(self.limit, username, address)
{%- else %}
        if await self.limiter.test(self.limit, username, address):
            return None
        window = await self.limiter.get_window_stats(self.limit, username, address)
{%- endif %}
        return max(1, math.ceil(window.reset_time - time.time()))

    async def record_failure(self, username: str, address: str) -> None:
{%- if cookiecutter.use_celery %}
        async with storage_deadline():
            await self.limiter.hit(self.limit, username, address)
{%- else %}
        await self.limiter.hit(self.limit, username, address)
{%- endif %}
