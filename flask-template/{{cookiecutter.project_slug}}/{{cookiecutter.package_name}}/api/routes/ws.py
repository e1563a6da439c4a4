"""WebSockets (flask-sock): /ws/echo and /ws/rooms/<room>.

Each connection holds one gunicorn thread for as long as it is open.
"""

import json
import threading
from typing import Any

from flask import Flask
from flask_sock import Sock
from werkzeug.routing import BaseConverter

from ...core.db import utcnow
from ...core.realtime import current_hub
from ...schemas import format_timestamp

sock = Sock()

MESSAGE_SHAPE = 'Expected {"type": "message", "data": <any JSON>}'


class RoomNameConverter(BaseConverter):
    """Room names are 1 to 64 of A-Z, a-z, 0-9, `_`, `.` and `-`; others are a 404."""

    regex = r"[A-Za-z0-9_.-]{1,64}"


def init_app(app: Flask) -> None:
    app.url_map.converters["room_name"] = RoomNameConverter
    sock.init_app(app)


def parse_room_message(raw: str | bytes) -> tuple[Any, str | None]:
    """The `data` of a client message, or an error detail for the client."""
    try:
        message = json.loads(raw)
    except (ValueError, RecursionError):
        return None, "Message is not valid JSON"
    if not isinstance(message, dict) or message.get("type") != "message" or "data" not in message:
        return None, MESSAGE_SHAPE
    return message["data"], None


@sock.route("/ws/echo")
def echo(ws) -> None:
    """Send every message back unchanged."""
    while True:
        ws.send(ws.receive())


@sock.route("/ws/rooms/<room_name:room>")
def room(ws, room: str) -> None:
    """Relay each message to everyone in the room, the sender included."""
    hub = current_hub()
    # The hub delivers from other threads; one send at a time on this connection.
    send_lock = threading.Lock()

    def send(text: str) -> None:
        with send_lock:
            ws.send(text)

    hub.subscribe(room, send)
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
