"""The connection protocols: one HTTP/1.1 keep-alive connection and one WebSocket client
connection, each a raw asyncio Protocol with at most one request in flight.

They do the wire work and timing; what to send next and what a message means is the
worker's business (`loadtest.engine.Worker`), which they call back.
"""

from __future__ import annotations

import asyncio
import errno
import time
from typing import TYPE_CHECKING

from loadtest.http import HEAD, ProtocolError, ResponseParser
from loadtest.websocket import (
    OP_CLOSE,
    OP_PING,
    OP_PONG,
    OP_TEXT,
    FrameParser,
    encode_close,
    encode_frame,
)

if TYPE_CHECKING:
    from loadtest.engine import Worker

monotonic_ns = time.monotonic_ns


def error_kind(exc: BaseException | None) -> tuple[str, str | None]:
    """Classify a connection failure as (kind, detail)."""
    if exc is None:
        return "reset", "closed by server"
    if isinstance(exc, (TimeoutError, asyncio.TimeoutError)):
        return "timeout", None
    if isinstance(exc, ConnectionResetError):
        return "reset", "connection reset"
    if isinstance(exc, ProtocolError):
        return "protocol", str(exc)[:80]
    if isinstance(exc, OSError) and exc.errno:
        return "reset", errno.errorcode.get(exc.errno, str(exc.errno))
    return "reset", type(exc).__name__


def response_shape(data: bytes, head_end: int, status: int) -> list:
    """What must match for a read to be this same response again: the bytes up to the Date
    value, and from the end of the Date line to the end of the head (the body is skipped);
    then the status, and how many times it came since the worker last counted."""
    lowered = data[:head_end].lower()
    date_at = lowered.find(b"\r\ndate:")
    if date_at < 0:
        return [data[: head_end + 4], head_end + 4, b"", status, 0]
    value_at = date_at + len(b"\r\ndate:")
    line_end = lowered.find(b"\r\n", value_at)
    line_end = head_end if line_end < 0 else line_end
    return [data[:value_at], line_end, data[line_end : head_end + 4], status, 0]


class HttpConnection(asyncio.Protocol):
    """One keep-alive connection with at most one request in flight."""

    __slots__ = (
        "worker",
        "slot",
        "source",
        "parser",
        "transport",
        "due_at",
        "written_at",
        "interval",
        "timer",
        "closing",
        "start",
        "fixed_request",
        "held",
        "done",
        "shapes",
        "record",
    )

    def __init__(self, worker: Worker, slot: int, source, interval_ns: int, due_at: int):
        self.worker = worker
        self.slot = slot
        self.source = source
        self.parser = ResponseParser(self.on_response, source.keep_body)
        self.transport = None
        self.interval = interval_ns
        self.due_at = due_at  # open loop: when the next request is due; else 0
        self.written_at = 0  # when the in-flight request was written; 0 = none
        self.timer = None
        self.closing = False
        self.start = 0  # what the in-flight request's latency is measured from
        self.fixed_request = getattr(source, "fixed", None)  # the one request, if only one
        self.held = False  # open since the window opened
        self.done = 0  # responses completed (in the window, once it is open)
        # Responses already parsed once, by length (see data_received); only for sources
        # that neither read bodies nor look at responses.
        plain = source.observe is None and not source.keep_body
        self.shapes = worker.response_shapes if plain else None
        self.record = worker.latencies.append  # a latency in ns (folded in at each sweep)

    @property
    def ready(self) -> bool:
        return self.transport is not None

    def connection_made(self, transport) -> None:
        self.transport = transport
        self.worker.attach(self)
        self.worker.mark_ready(self)
        if self.worker.started:
            self.send_next()

    def begin(self) -> None:
        self.send_next()

    def send_next(self, now: int = 0) -> None:
        worker = self.worker
        if worker.stopping:
            self.close()
            return
        if not now:
            now = monotonic_ns()
        if self.interval:
            due = self.due_at
            if due > now:
                self.timer = worker.loop.call_later((due - now) / 1e9, self.send_scheduled)
                return
            self.due_at = due + self.interval
            self.written_at = now
            self.start = due
        else:
            self.written_at = now
            self.start = now
        worker.result.sent += 1
        self.transport.write(self.fixed_request or self.source.next())

    def send_scheduled(self) -> None:
        self.timer = None
        self.send_next()

    def data_received(self, data: bytes) -> None:
        # The fast path, found by profiling: a server answering the same request sends the
        # same response again, byte for byte but for the Date value (of fixed width). When
        # this read is exactly a response the parser has already parsed once (same length,
        # the same bytes before and after the Date value), it is counted without parsing
        # it again. Anything else goes through the parser. This is the engine's hot path,
        # so on_response and send_next are inlined here. Its next request is written with
        # those of every other connection that was answered in the same turn of the loop
        # (Worker.write_soon), as wrk writes on its writable events.
        shapes = self.shapes
        if shapes is not None:
            shape = shapes.get(len(data))
            parser = self.parser
            if (
                shape is not None
                and parser.state == HEAD
                and not parser.buffer
                and data.startswith(shape[0])
                and data.startswith(shape[2], shape[1])
            ):
                now = monotonic_ns()
                worker = self.worker
                if worker.stopping or self.interval:
                    self.on_response(shape[3], b"", b"")
                    return
                self.record(now - self.start)
                self.done += 1
                shape[4] += 1  # a response and the next request, counted at the next sweep
                self.written_at = self.start = now
                worker.write_soon(self)
                return
        try:
            self.parser.feed(data)
        except ProtocolError as exc:
            self.fail(exc)
            return
        if shapes is not None and self.parser.last_whole is not None and len(shapes) < 64:
            head_end = self.parser.last_whole
            shapes[len(data)] = response_shape(data, head_end, self.parser.status)

    def on_response(self, status: int, head: bytes, body: bytes) -> None:
        now = monotonic_ns()
        worker = self.worker
        self.written_at = 0
        if worker.stopping:
            return
        result = worker.result
        self.record(now - self.start)
        result.completed += 1
        self.done += 1
        statuses = result.statuses
        statuses[status] = statuses.get(status, 0) + 1
        observe = self.source.observe
        if observe is not None:
            observe(status, head, body)
        if self.parser.close_after:
            self.close()  # the server will not take another request on this connection
            return
        self.send_next(now)

    def eof_received(self) -> bool:
        if self.parser.feed_eof():
            pass  # a close-delimited body just ended
        return False

    def connection_lost(self, exc: Exception | None) -> None:
        worker = self.worker
        if self.timer is not None:
            self.timer.cancel()
        in_flight = self.written_at != 0 or not self.parser.idle
        if not self.closing and not worker.stopping:
            if exc is not None and not self.held and not self.done:
                # reset before it ever answered: the server turned the connection away
                worker.result.count_error("connect", f"{error_kind(exc)[1]} before an answer")
            elif in_flight:
                worker.result.count_error(*error_kind(exc))
        worker.detach(self)

    def fail(self, exc: BaseException) -> None:
        self.worker.result.count_error(*error_kind(exc))
        self.written_at = 0
        self.closing = True
        if self.transport is not None:
            self.transport.abort()

    def close(self) -> None:
        self.closing = True
        if self.timer is not None:
            self.timer.cancel()
            self.timer = None
        if self.transport is not None:
            self.transport.close()


class WsConnection(asyncio.Protocol):
    """A WebSocket client connection; `role` decides what it does once open."""

    def __init__(self, worker: Worker, slot: int, role: str, handshake: tuple[bytes, bytes]):
        self.worker = worker
        self.slot = slot
        self.role = role
        self.request, self.expected_accept = handshake
        self.transport = None
        self.head = b""
        self.open = False
        self.frames = FrameParser(self.on_message)
        self.written_at = 0
        self.start = 0
        self.closing = False
        self.connect_started = monotonic_ns()
        self.joined = False  # a room connection the server has confirmed as joined
        self.held = False
        self.done = 0

    @property
    def ready(self) -> bool:
        """Open, and for a room in a service that confirms joins, joined."""
        return self.open and (self.joined or not self.worker.awaits_join)

    def connection_made(self, transport) -> None:
        self.transport = transport
        self.worker.attach(self)
        # The handshake is in flight from here: its age counts from now, like a request's.
        self.written_at = self.start = monotonic_ns()
        transport.write(self.request)

    def data_received(self, data: bytes) -> None:
        try:
            if not self.open:
                data = self.read_handshake(data)
                if data is None:
                    return
            if data:
                self.frames.feed(data)
        except ProtocolError as exc:
            self.fail(exc)

    def read_handshake(self, data: bytes) -> bytes | None:
        self.head += data
        end = self.head.find(b"\r\n\r\n")
        if end < 0:
            return None
        head, rest = self.head[:end], self.head[end + 4 :]
        status = int(head[9:12]) if head[:5] == b"HTTP/" else 0
        if status != 101:
            self.worker.result.count_error(f"status {status}", "WebSocket upgrade refused")
            self.written_at = 0
            self.close()
            return None
        if self.expected_accept not in head:
            raise ProtocolError("wrong Sec-WebSocket-Accept")
        self.open = True
        self.written_at = 0
        self.worker.result.connect.record(monotonic_ns() - self.connect_started)
        if self.ready:
            self.became_ready()
        return rest

    def became_ready(self) -> None:
        self.worker.mark_ready(self)
        if self.worker.started:
            self.begin()

    def begin(self) -> None:
        self.worker.on_ws_open(self)

    def send_text(self, payload: bytes, start: int | None = None) -> None:
        now = monotonic_ns()
        self.written_at = now
        self.start = start or now
        self.worker.result.sent += 1
        self.transport.write(encode_frame(payload, OP_TEXT))

    def send_frame(self, frame: bytes) -> None:
        now = monotonic_ns()
        self.written_at = self.start = now
        self.worker.result.sent += 1
        self.transport.write(frame)

    def on_message(self, opcode: int, payload: bytes) -> None:
        if opcode == OP_PING:
            self.transport.write(encode_frame(payload, OP_PONG))
        elif opcode == OP_CLOSE:
            if not self.closing:
                self.closing = True
                if not self.worker.stopping:
                    self.worker.result.count_error("reset", "WebSocket closed by server")
                self.transport.write(encode_close())
                self.transport.close()
        elif opcode != OP_PONG:
            self.worker.on_ws_message(self, payload)

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.closing and not self.worker.stopping:
            if self.open:
                self.worker.result.count_error(*error_kind(exc))
            else:  # lost during the opening handshake: the server turned it away
                self.worker.result.count_error("connect", f"{error_kind(exc)[1]} in handshake")
        self.worker.detach(self)

    def fail(self, exc: BaseException) -> None:
        self.worker.result.count_error(*error_kind(exc))
        self.written_at = 0
        self.closing = True
        self.transport.abort()

    def close(self) -> None:
        if not self.closing and self.transport is not None:
            self.closing = True
            if self.open:
                self.transport.write(encode_close())
            self.transport.close()
