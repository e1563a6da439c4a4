"""A tiny asyncio HTTP/1.1 + WebSocket server that counts what it receives.

It answers GET /health, GET /boom (500), GET /hangup (closes mid-response) and upgrades
GET /ws/echo to a WebSocket that echoes every text message.
"""

from __future__ import annotations

import asyncio
import struct
import threading

from loadtest.websocket import OP_CLOSE, OP_TEXT, FrameParser, accept_value

HEALTH = (
    b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 15\r\n\r\n"
    b'{"status":"ok"}'
)
BOOM = b"HTTP/1.1 500 Internal Server Error\r\nContent-Length: 0\r\n\r\n"
NOT_FOUND = b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n"


def server_frame(payload: bytes, opcode: int = OP_TEXT) -> bytes:
    n = len(payload)
    if n < 126:
        return struct.pack("!BB", 0x80 | opcode, n) + payload
    return struct.pack("!BBH", 0x80 | opcode, 126, n) + payload


class Connection(asyncio.Protocol):
    def __init__(self, server: TinyServer) -> None:
        self.server = server
        self.buffer = b""
        self.frames: FrameParser | None = None

    def connection_made(self, transport) -> None:
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        if self.frames is not None:
            self.frames.feed(data)
            return
        self.buffer += data
        while (end := self.buffer.find(b"\r\n\r\n")) >= 0:
            head, self.buffer = self.buffer[:end], self.buffer[end + 4 :]
            self.server.requests += 1
            path = head.split(b" ", 2)[1]
            if path == b"/health":
                self.transport.write(HEALTH)
            elif path == b"/boom":
                self.transport.write(BOOM)
            elif path == b"/hangup":
                self.transport.write(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\npartial")
                self.transport.close()
                return
            elif path == b"/ws/echo":
                self.upgrade(head)
                return
            else:
                self.transport.write(NOT_FOUND)

    def upgrade(self, head: bytes) -> None:
        key = next(
            line.split(b":", 1)[1].strip()
            for line in head.split(b"\r\n")
            if line.lower().startswith(b"sec-websocket-key:")
        )
        self.transport.write(
            b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            b"Sec-WebSocket-Accept: " + accept_value(key) + b"\r\n\r\n"
        )
        self.frames = FrameParser(self.on_message)
        if self.buffer:
            self.frames.feed(self.buffer)

    def on_message(self, opcode: int, payload: bytes) -> None:
        if opcode == OP_CLOSE:
            self.transport.write(server_frame(payload, OP_CLOSE))
            self.transport.close()
            return
        self.server.messages += 1
        self.transport.write(server_frame(payload, opcode))


class TinyServer:
    """Runs on its own thread and event loop; use as a context manager."""

    def __init__(self) -> None:
        self.requests = 0
        self.messages = 0
        self.port = 0
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)

    def __enter__(self) -> TinyServer:
        self.thread.start()
        future = asyncio.run_coroutine_threadsafe(self._start(), self.loop)
        self.port = future.result(timeout=5)
        return self

    async def _start(self) -> int:
        self.server = await self.loop.create_server(
            lambda: Connection(self), "127.0.0.1", 0, backlog=1024
        )
        return self.server.sockets[0].getsockname()[1]

    def __exit__(self, *exc) -> None:
        async def stop() -> None:
            self.server.close()

        asyncio.run_coroutine_threadsafe(stop(), self.loop).result(timeout=5)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(timeout=5)
