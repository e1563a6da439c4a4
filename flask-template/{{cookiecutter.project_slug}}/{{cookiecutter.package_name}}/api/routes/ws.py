"""WebSockets (flask-sock): /ws/echo and /ws/rooms/<room>.

Each connection holds one gunicorn thread for as long as it is open. A connection never
ends by itself, so a stopping worker closes them all with `close_websockets` (called by
gunicorn.conf.py) instead of waiting for clients that will not leave.
"""

import json
import socket
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from functools import wraps
from typing import Any

from flask import Blueprint, Flask, Response, current_app
from flask_sock import Sock
from simple_websocket import ConnectionClosed, Server
from werkzeug.routing import BaseConverter

from ...core.db import utcnow
from ...core.errors import problem
from ...core.realtime import current_hub
from ...schemas import format_timestamp

sock = Sock()
# The WebSocket routes have a plain Flask blueprint of their own (flask-smorest documents
# none of them), so that the capacity check below runs before their handshakes only rather
# than before every request the service answers.
blp = Blueprint("ws", __name__)

MESSAGE_SHAPE = 'Expected {"type": "message", "data": <any JSON>}'


class RoomNameConverter(BaseConverter):
    """Room names are 1 to 64 of A-Z, a-z, 0-9, `_`, `.` and `-`; others are a 404."""

    regex = r"[A-Za-z0-9_.-]{1,64}"


# Close code 1001: the server is going away.
GOING_AWAY = 1001
# How long a goodbye waits for the connection's reader thread to stop.
READER_STOP_SECONDS = 1.0
# When a client refused for want of threads may try again.
RETRY_AFTER_SECONDS = 5


class OpenConnections:
    """The WebSocket connections this process holds open, at most `capacity` of them."""

    def __init__(self, capacity: int) -> None:
        self.capacity = capacity
        self._connections: set[Server] = set()
        self._closing = False
        self._lock = threading.Lock()

    @contextmanager
    def hold(self, ws: Server) -> Iterator[None]:
        with self._lock:
            self._connections.add(ws)
            closing = self._closing
        if closing:
            # Its handshake was answered after close_all took its list: goodbye at once.
            say_goodbye(ws)
        try:
            yield
        finally:
            with self._lock:
                self._connections.discard(ws)

    def __len__(self) -> int:
        with self._lock:
            return len(self._connections)

    def full(self) -> bool:
        return len(self) >= self.capacity

    def close_all(self) -> None:
        """Say goodbye to every client, and to any that connects from now on."""
        with self._lock:
            self._closing = True
            connections = list(self._connections)
        for ws in connections:
            say_goodbye(ws)


def say_goodbye(ws: Server) -> None:
    """Close with 1001 (going away) and end the connection now.

    Shutting the socket down wakes the connection's reader at once, so its handler returns
    even if the client never answers the close. `Server.close` also closes the socket's
    descriptor, which does not wake a thread blocked reading it: the shutdown goes through a
    duplicate taken first, kept until the reader has stopped (closing the last descriptor
    first would drop the wake-up its poll was about to collect). A reader that had not yet
    reached its first read sees the connection closed and stops without waking the handler,
    so the handler's event is set here too.
    """
    try:
        duplicate = ws.sock.dup()
    except OSError:
        return  # already closed: its reader has ended
    with duplicate:
        with suppress(ConnectionClosed, OSError):
            ws.close(reason=GOING_AWAY, message="Server is shutting down")
        with suppress(OSError):
            duplicate.shutdown(socket.SHUT_RDWR)
        ws.thread.join(timeout=READER_STOP_SECONDS)
    ws.event.set()


def websocket_capacity(app: Flask) -> int:
    """How many WebSockets one worker process holds: WS_THREAD_SHARE of its threads.

    Each holds a thread for as long as it is open. Were they allowed all of them, every
    further request, /health included, would wait for a thread that never comes free.
    """
    share = min(max(app.config["WS_THREAD_SHARE"], 0.0), 1.0)
    return max(1, int(app.config["GUNICORN_THREADS"] * share))


def refuse_websockets_beyond_capacity() -> Response | None:
    """Answer a WebSocket handshake with 503 once this worker's share of threads is taken.

    Handshakes that arrive together may all pass before the first is counted: the threads
    outside the share leave room for them.
    """
    if not current_app.extensions["websockets"].full():
        return None
    return problem(
        503,
        "This worker holds all the WebSocket connections it can; try again later",
        headers={"Retry-After": str(RETRY_AFTER_SECONDS)},
    )


blp.before_request(refuse_websockets_beyond_capacity)


def init_app(app: Flask) -> None:
    app.url_map.converters["room_name"] = RoomNameConverter
    app.extensions["websockets"] = OpenConnections(websocket_capacity(app))
    sock.init_app(app)
    app.register_blueprint(blp)


def close_websockets(app: Flask) -> None:
    app.extensions["websockets"].close_all()


def closed_on_shutdown(handler: Callable[..., None]) -> Callable[..., None]:
    """Register the handler's connection for as long as it runs."""

    @wraps(handler)
    def handle(ws: Server, *args: Any, **kwargs: Any) -> None:
        with current_app.extensions["websockets"].hold(ws):
            handler(ws, *args, **kwargs)

    return handle


def parse_room_message(raw: str | bytes) -> tuple[Any, str | None]:
    """The `data` of a client message, or an error detail for the client."""
    try:
        message = json.loads(raw)
    except (ValueError, RecursionError):
        return None, "Message is not valid JSON"
    if not isinstance(message, dict) or message.get("type") != "message" or "data" not in message:
        return None, MESSAGE_SHAPE
    return message["data"], None


@sock.route("/ws/echo", bp=blp)
@closed_on_shutdown
def echo(ws: Server) -> None:
    """Send every message back unchanged."""
    while True:
        ws.send(ws.receive())


@sock.route("/ws/rooms/<room_name:room>", bp=blp)
@closed_on_shutdown
def room(ws: Server, room: str) -> None:
    """Relay each message to everyone in the room, the sender included."""
    hub = current_hub()
    # The hub delivers from other threads; one send at a time on this connection.
    send_lock = threading.Lock()

    def send(text: str) -> None:
        with send_lock:
            ws.send(text)

    # Holding the lock, the hub cannot deliver a room message before "joined" has gone out.
    with send_lock:
        hub.subscribe(room, send)
        ws.send(json.dumps({"type": "joined", "room": room}))
    try:
        while True:
            data, error = parse_room_message(ws.receive())
            if error is not None:
                send(json.dumps({"type": "error", "detail": error}))
                continue
            hub.publish(
                room,
                {
                    "type": "message",
                    "room": room,
                    "data": data,
                    "sent_at": format_timestamp(utcnow()),
                },
            )
    finally:
        hub.unsubscribe(room, send)
