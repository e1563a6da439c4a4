"""A tiny asyncio HTTP/1.1 + WebSocket server that counts what it receives.

It answers GET /health, GET /boom (500), GET /hangup (closes mid-response), GET /slow
(after `slow_seconds`), GET /lag (after 0.1 s), GET /flip (200 and 503 in turn) and
GET /chunky (a body in thousands of tiny chunks: cheap to send, costly to parse). It
upgrades GET /ws/echo to a WebSocket that echoes every text message, and GET
/ws/rooms/<room> to one that sends every message to the whole room (first saying `joined`
when `joins` is set). With `max_connections` it holds at most that many connections and
resets the others.
"""

from __future__ import annotations

import asyncio
import socket
import struct
import threading

from loadtest.websocket import OP_CLOSE, OP_TEXT, FrameParser, accept_value

HEALTH = (
    b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 15\r\n\r\n"
    b'{"status":"ok"}'
)
BOOM = b"HTTP/1.1 500 Internal Server Error\r\nContent-Length: 0\r\n\r\n"
NOT_FOUND = b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n"
FLIP = (
    b"HTTP/1.1 503 No\r\nContent-Length: 2\r\n\r\nno",
    b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok",
)
CHUNKY = (
    b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n" + b"1\r\nx\r\n" * 20000 + b"0\r\n\r\n"
)


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
        self.room: set | None = None

    def connection_made(self, transport) -> None:
        self.transport = transport
        limit = self.server.max_connections
        if limit is not None and self.server.open >= limit:
            sock = transport.get_extra_info("socket")
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            self.server.refused += 1
            transport.abort()  # an RST, as a server past its connection limit sends
            self.held = False
            return
        self.held = True
        self.server.open += 1

    def connection_lost(self, exc) -> None:
        if getattr(self, "held", False):
            self.server.open -= 1
        if self.room is not None:
            self.room.discard(self)

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
            elif path == b"/slow":
                self.server.loop.call_later(self.server.slow_seconds, self.write_if_open, HEALTH)
            elif path == b"/lag":
                self.server.loop.call_later(0.1, self.write_if_open, HEALTH)
            elif path == b"/chunky":
                self.transport.write(CHUNKY)
            elif path == b"/flip":  # 200 and 503 in turn, the two of exactly the same length
                self.server.flips += 1
                self.transport.write(FLIP[self.server.flips % 2])
            elif path == b"/hangup":
                self.transport.write(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\npartial")
                self.transport.close()
                return
            elif path == b"/ws/echo":
                self.upgrade(head)
                return
            elif path.startswith(b"/ws/rooms/"):
                self.upgrade(head)
                self.room = self.server.rooms.setdefault(path.rsplit(b"/", 1)[1], set())
                self.room.add(self)
                if self.server.joins:
                    self.transport.write(server_frame(b'{"type":"joined","room":"r"}'))
                return
            else:
                self.transport.write(NOT_FOUND)

    def write_if_open(self, data: bytes) -> None:
        if not self.transport.is_closing():
            self.transport.write(data)

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
        if self.room is None:
            self.transport.write(server_frame(payload, opcode))
            return
        for member in self.room:  # a room: everyone gets it, the sender too
            member.transport.write(server_frame(payload, opcode))


class TinyServer:
    """Runs on its own thread and event loop; use as a context manager."""

    def __init__(
        self, max_connections: int | None = None, slow_seconds: float = 1.0, joins: bool = False
    ) -> None:
        self.joins = joins
        self.rooms: dict[bytes, set] = {}
        self.max_connections = max_connections
        self.slow_seconds = slow_seconds
        self.open = 0
        self.refused = 0
        self.flips = 0
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
