{%- if cookiecutter.use_celery -%}
"""Rooms of WebSocket connections: an in-process hub, or Redis pub/sub across processes.

Each connection reads its room's messages from its own bounded queue, so one slow client
never holds up the others. With Redis, a message is published to the channel
`ws:<db>:<room>` and each worker process runs a single `PSUBSCRIBE ws:<db>:*` task that hands
the messages on to the connections it holds. (Pub/sub channels are shared by every database of
a Redis server; the database number in the name keeps services on other databases apart.)
"""
{%- else -%}
"""Rooms of WebSocket connections, within this process.

Each connection reads its room's messages from its own bounded queue, so one slow client
never holds up the others.
"""
{%- endif %}

import asyncio
import json
import logging
import re
from collections import defaultdict
from collections.abc import AsyncIterator
{%- if cookiecutter.use_celery %}
from contextlib import asynccontextmanager, suppress
{%- else %}
from contextlib import asynccontextmanager
{%- endif %}
from typing import Any
{%- if cookiecutter.use_celery %}

from redis.asyncio import Redis
from redis.exceptions import RedisError

from {{ cookiecutter.package_name }}.core.cache import redis_deadline
{%- endif %}

logger = logging.getLogger(__name__)

ROOM_NAME = re.compile(r"[A-Za-z0-9_.-]{1,64}")
QUEUE_SIZE = 256
{%- if cookiecutter.use_celery %}
RECONNECT_DELAY_SECONDS = 1.0
{%- endif %}


class LocalHub:
    """Delivers messages to the connections of this process only."""

    scope = "local"  # what /ready reports: rooms reach this process only

    def __init__(self) -> None:
        self._rooms: dict[str, set[asyncio.Queue[str]]] = defaultdict(set)

    async def start(self) -> None:
        pass

    async def stop(self) -> None:
        pass

    @asynccontextmanager
    async def subscribe(self, room: str) -> AsyncIterator[asyncio.Queue[str]]:
        """Join `room` for the duration of the block; leaving is guaranteed however it ends."""
        queue: asyncio.Queue[str] = asyncio.Queue(maxsize=QUEUE_SIZE)
        self._rooms[room].add(queue)
        try:
            yield queue
        finally:
            members = self._rooms.get(room)
            if members is not None:
                members.discard(queue)
                if not members:
                    del self._rooms[room]

    def connection_count(self, room: str) -> int:
        return len(self._rooms.get(room, ()))

    def deliver(self, room: str, text: str) -> None:
        for queue in self._rooms.get(room, ()):
            try:
                queue.put_nowait(text)
            except asyncio.QueueFull:
                logger.warning("Dropped a message for a slow client in room %s", room)

    async def publish(self, room: str, message: dict[str, Any]) -> None:
        self.deliver(room, json.dumps(message))
{%- if cookiecutter.use_celery %}


class RedisHub(LocalHub):
    """Publishes through Redis so that every worker process delivers to its connections."""

    scope = "redis"  # rooms span every process

    def __init__(self, redis: Redis) -> None:
        super().__init__()
        self.redis = redis
        self.channel_prefix = f"ws:{redis.connection_pool.connection_kwargs.get('db', 0)}:"
        self._listener: asyncio.Task[None] | None = None
        self.subscribed = asyncio.Event()

    async def start(self) -> None:
        self._listener = asyncio.create_task(self._listen(), name="realtime-listener")

    async def stop(self) -> None:
        if self._listener is not None:
            self._listener.cancel()
            with suppress(asyncio.CancelledError):
                await self._listener

    async def _listen(self) -> None:
        while True:
            pubsub = self.redis.pubsub(ignore_subscribe_messages=True)
            try:
                await pubsub.psubscribe(f"{self.channel_prefix}*")
                self.subscribed.set()
                async for message in pubsub.listen():
                    if message["type"] == "pmessage":
                        room = message["channel"].decode().removeprefix(self.channel_prefix)
                        self.deliver(room, message["data"].decode())
            except (RedisError, OSError) as exc:
                self.subscribed.clear()
                logger.warning("Redis pub/sub connection lost, reconnecting: %s", exc)
                await asyncio.sleep(RECONNECT_DELAY_SECONDS)
            finally:
                # Unannotated in older redis-py releases, annotated in newer ones.
                await pubsub.aclose()  # type: ignore[no-untyped-call, unused-ignore]

    async def publish(self, room: str, message: dict[str, Any]) -> None:
        text = json.dumps(message)
        try:
            async with redis_deadline():
                await self.redis.publish(f"{self.channel_prefix}{room}", text)
        except (RedisError, OSError) as exc:  # TimeoutError is an OSError
            # Better that this process's clients hear it than nobody does.
            logger.warning("Redis publish failed, delivering locally only: %r", exc)
            self.deliver(room, text)
{%- endif %}
