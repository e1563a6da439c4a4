"""Rooms for WebSocket clients: an in-process hub, or Redis pub/sub across processes.

A subscriber is a callable taking the JSON text of each message published to its room.
`LocalHub` reaches the subscribers of this process only. `RedisHub` publishes to the Redis
channel `ws:<db>:<room>`; one listener thread per process (started on the first
subscription, so after gunicorn forks) receives every room with `PSUBSCRIBE ws:<db>:*` and
hands each message to the local subscribers. Either way a message reaches every client in the
room, the sender included. (Pub/sub channels are shared by every database of a Redis server;
the database number in the name keeps services on other databases apart.)
"""

import json
import logging
{% if cookiecutter.use_celery -%}
import os
{% endif -%}
import threading
from collections import defaultdict
from collections.abc import Callable
from typing import Any

{% if cookiecutter.use_celery -%}
import redis
{% endif -%}
from flask import Flask, current_app

logger = logging.getLogger(__name__)

Subscriber = Callable[[str], None]
{%- if cookiecutter.use_celery %}

{%- endif %}


class LocalHub:
    """Rooms of this process."""

    scope = "local"  # what /ready reports: rooms reach this process only

    def __init__(self) -> None:
        self._rooms: dict[str, set[Subscriber]] = defaultdict(set)
        self._lock = threading.Lock()

    def subscribe(self, room: str, subscriber: Subscriber) -> None:
        with self._lock:
            self._rooms[room].add(subscriber)

    def unsubscribe(self, room: str, subscriber: Subscriber) -> None:
        with self._lock:
            subscribers = self._rooms.get(room)
            if subscribers is not None:
                subscribers.discard(subscriber)
                if not subscribers:
                    del self._rooms[room]

    def subscriber_count(self, room: str) -> int:
        with self._lock:
            return len(self._rooms.get(room, ()))

    def publish(self, room: str, message: dict[str, Any]) -> None:
        self.deliver(room, json.dumps(message))

    def deliver(self, room: str, text: str) -> None:
        with self._lock:
            subscribers = list(self._rooms.get(room, ()))
        for subscriber in subscribers:
            try:
                subscriber(text)
            except Exception:  # a connection that broke mid-send; its handler cleans up
                logger.debug("Dropping a message for a closed connection in room %s", room)

    def close(self) -> None:
        """Nothing to release in process."""
{%- if cookiecutter.use_celery %}


class RedisHub(LocalHub):
    """Rooms shared by every process connected to the same Redis."""

    scope = "redis"  # rooms span every process

    def __init__(self, url: str) -> None:
        super().__init__()
        self._url = url
        self._client = redis.Redis.from_url(url, socket_timeout=2, socket_connect_timeout=2)
        self._channel_prefix = f"ws:{self._client.connection_pool.connection_kwargs.get('db', 0)}:"
        self._listener_pid: int | None = None
        self._listener: threading.Thread | None = None
        self._listening = threading.Event()
        self._stopping = threading.Event()

    def publish(self, room: str, message: dict[str, Any]) -> None:
        try:
            self._client.publish(self._channel_prefix + room, json.dumps(message))
        except redis.RedisError as error:
            logger.warning("Could not publish to room %s: %s", room, error)

    def subscribe(self, room: str, subscriber: Subscriber) -> None:
        super().subscribe(room, subscriber)
        self._ensure_listener()
        # Only the first subscriber of a process waits, for the listener to be in place.
        self._listening.wait(timeout=2)

    def _ensure_listener(self) -> None:
        # A thread does not survive fork(): a forked worker starts its own on first use.
        with self._lock:
            if self._listener_pid == os.getpid():
                return
            self._listener_pid = os.getpid()
        self._listener = threading.Thread(
            target=self._listen, name="realtime-listener", daemon=True
        )
        self._listener.start()

    def _listen(self) -> None:
        while not self._stopping.is_set():
            try:
                self._relay_messages()
            except redis.RedisError as error:
                logger.warning("Realtime listener lost Redis, retrying: %s", error)
                self._stopping.wait(1)

    def _relay_messages(self) -> None:
        # Its own connection, with no read timeout: it waits for messages, and pings
        # Redis every 30 seconds to notice a dead connection.
        client = redis.Redis.from_url(self._url, health_check_interval=30)
        # Unannotated in older redis-py releases, annotated in newer ones.
        with client.pubsub() as pubsub:  # type: ignore[no-untyped-call, unused-ignore]
            pubsub.psubscribe(self._channel_prefix + "*")
            while not self._stopping.is_set():
                message = pubsub.get_message(timeout=1.0)
                if message is None:
                    continue
                if message["type"] == "psubscribe":
                    self._listening.set()
                elif message["type"] == "pmessage":
                    room = message["channel"].decode()[len(self._channel_prefix) :]
                    self.deliver(room, message["data"].decode())

    def close(self) -> None:
        """Stop this process's listener (it notices within a second) and wait for it."""
        self._stopping.set()
        if self._listener_pid == os.getpid() and self._listener is not None:
            self._listener.join(timeout=2)
        self._client.close()
{%- endif %}


def init_realtime(app: Flask) -> None:
{%- if cookiecutter.use_celery %}
    url = app.config["REDIS_URL"]
    app.extensions["realtime"] = RedisHub(url) if url else LocalHub()
{%- else %}
    app.extensions["realtime"] = LocalHub()
{%- endif %}


def current_hub() -> LocalHub:
    hub: LocalHub = current_app.extensions["realtime"]
    return hub
