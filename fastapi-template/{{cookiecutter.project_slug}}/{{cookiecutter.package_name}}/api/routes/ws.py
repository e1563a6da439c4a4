"""WebSockets: an echo endpoint and chat-style rooms (room `items` carries item events)."""

import asyncio
import json
from contextlib import suppress
from datetime import UTC, datetime

from fastapi import APIRouter, WebSocket, WebSocketDisconnect
from starlette.convertors import Convertor, register_url_convertor

from {{ cookiecutter.package_name }}.api.deps import HubDep
from {{ cookiecutter.package_name }}.core.realtime import ROOM_NAME
from {{ cookiecutter.package_name }}.schemas.item import format_timestamp


class RoomNameConvertor(Convertor[str]):
    """Matches valid room names only: any other name is an unknown path, refused with 404."""

    regex = ROOM_NAME.pattern

    def convert(self, value: str) -> str:
        return value

    def to_string(self, value: str) -> str:
        return value


register_url_convertor("room", RoomNameConvertor())

router = APIRouter()

NOT_JSON = "Message is not valid JSON"
WRONG_SHAPE = 'Expected {"type": "message", "data": <any JSON>}'
NOT_TEXT = "Messages must be text"


@router.websocket("/ws/echo")
async def echo(websocket: WebSocket) -> None:
    await websocket.accept()
    try:
        while True:
            message = await websocket.receive()
            if message["type"] == "websocket.disconnect":
                return
            if message.get("text") is not None:
                await websocket.send_text(message["text"])
            elif message.get("bytes") is not None:
                await websocket.send_bytes(message["bytes"])
    except WebSocketDisconnect:
        pass


def parse_room_message(text: str) -> tuple[object, str | None]:
    """The message's `data`, or an error detail when it is not {"type": "message", "data": ...}."""
    try:
        message = json.loads(text)
    except ValueError:
        return None, NOT_JSON
    if (
        not isinstance(message, dict)
        or message.keys() != {"type", "data"}
        or message["type"] != "message"
    ):
        return None, WRONG_SHAPE
    return message["data"], None


async def forward(queue: asyncio.Queue[str], websocket: WebSocket) -> None:
    while True:
        await websocket.send_text(await queue.get())


@router.websocket("/ws/rooms/{room:room}")
async def room(websocket: WebSocket, room: str, hub: HubDep) -> None:
    await websocket.accept()
    async with hub.subscribe(room) as queue:
        # In the room from here on: say so first, before any message of the room.
        await websocket.send_text(json.dumps({"type": "joined", "room": room}))
        sender = asyncio.create_task(forward(queue, websocket))
        try:
            while True:
                message = await websocket.receive()
                if message["type"] == "websocket.disconnect":
                    return
                data: object
                error: str | None
                if message.get("text") is None:
                    data, error = None, NOT_TEXT
                else:
                    data, error = parse_room_message(message["text"])
                if error is not None:
                    # Through the queue, so that only the sender task ever writes.
                    with suppress(asyncio.QueueFull):
                        queue.put_nowait(json.dumps({"type": "error", "detail": error}))
                    continue
                sent_at = format_timestamp(datetime.now(UTC))
                await hub.publish(
                    room, {"type": "message", "room": room, "data": data, "sent_at": sent_at}
                )
        except WebSocketDisconnect:
            pass
        finally:
            sender.cancel()
            with suppress(asyncio.CancelledError, Exception):
                await sender
