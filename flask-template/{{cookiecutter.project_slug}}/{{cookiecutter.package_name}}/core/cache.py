"""Redis cache-aside for item reads.

Keys are `item:<id>`, holding the item's JSON and its ETag for `CACHE_TTL_SECONDS`.
Every write deletes the key. The cache only ever speeds things up: with no `REDIS_URL`
it is off, and any Redis error is logged and bypassed, so reads fall back to the database.
"""

import logging
from typing import cast

import redis
from flask import Flask, current_app

logger = logging.getLogger(__name__)

# Fail fast: a slow or missing Redis must not hold up requests the database can answer.
REDIS_TIMEOUT_SECONDS = 0.5


def redis_client(url: str) -> redis.Redis:
    return redis.Redis.from_url(
        url,
        socket_timeout=REDIS_TIMEOUT_SECONDS,
        socket_connect_timeout=REDIS_TIMEOUT_SECONDS,
    )


class ItemCache:
    """A Flask extension; the Redis client lives in `app.extensions["item_cache"]`."""

    def init_app(self, app: Flask) -> None:
        url = app.config["REDIS_URL"]
        app.extensions["item_cache"] = redis_client(url) if url else None

    @staticmethod
    def _client() -> redis.Redis | None:
        client: redis.Redis | None = current_app.extensions["item_cache"]
        return client

    @staticmethod
    def key(item_id: int) -> str:
        return f"item:{item_id}"

    def get(self, item_id: int) -> bytes | None:
        client = self._client()
        if client is None:
            return None
        try:
            # decode_responses is off, so Redis answers bytes (or None for a miss).
            return cast(bytes | None, client.get(self.key(item_id)))
        except redis.RedisError as error:
            logger.warning("Cache read failed, using the database: %s", error)
            return None

    def set(self, item_id: int, value: bytes) -> None:
        client = self._client()
        if client is None:
            return
        try:
            client.set(
                self.key(item_id),
                value,
                ex=current_app.config["CACHE_TTL_SECONDS"],
            )
        except redis.RedisError as error:
            logger.warning("Cache write failed: %s", error)

    def delete(self, item_id: int) -> None:
        client = self._client()
        if client is None:
            return
        try:
            client.delete(self.key(item_id))
        except redis.RedisError as error:
            logger.warning("Cache invalidation failed: %s", error)


item_cache = ItemCache()
