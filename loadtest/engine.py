"""The worker loop: one asyncio event loop driving many keep-alive connections.

The connections themselves (`loadtest.connections`) are raw asyncio Protocols with one
request in flight; the worker opens them, starts and stops the clock, finds timeouts and
plays the WebSocket roles. In closed-loop mode
it sends the next request as soon as a response completes. In open-loop mode (a target
rate) every connection follows a fixed schedule, and latency is measured from the time a
request was *due*, not when it could finally be sent, so a stalled server cannot hide its
stall (no coordinated omission).
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import json
import socket
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from loadtest.connections import HttpConnection, WsConnection
from loadtest.result import WorkerResult
from loadtest.websocket import encode_frame, handshake_request

monotonic_ns = time.monotonic_ns
CONNECT_CONCURRENCY = 256  # connection attempts in flight at once while ramping up
SWEEP_SECONDS = 0.2


@dataclass
class WorkerSpec:
    """Everything one worker process needs; plain data so it can cross processes."""

    host: str
    port: int
    scenario: str
    plan: dict
    connections: int
    duration: float
    rate: float | None = None
    timeout: float = 10.0
    warmup: float = 0.0  # seconds of load before the measured window opens
    first_connection: int = 0  # global index of this worker's first connection


class Worker:
    """Runs one WorkerSpec on the current event loop and fills a WorkerResult."""

    def __init__(self, spec: WorkerSpec, make_source: Callable[[int], object] | None) -> None:
        self.spec = spec
        self.make_source = make_source
        self.loop = asyncio.get_running_loop()
        self.result = WorkerResult()
        self.stopping = False
        self.started = False
        self.ready = 0
        self.all_ready = asyncio.Event()
        self.address: tuple[str, int] = (spec.host, spec.port)
        self.live: set = set()
        self.timeout_ns = int(spec.timeout * 1e9)
        self.connect_gate = asyncio.Semaphore(CONNECT_CONCURRENCY)
        self.pending_tasks: set[asyncio.Task] = set()
        self.plan = spec.plan
        self.kind = spec.plan["kind"]
        # WebSocket scenario state
        self.echo_frames = [encode_frame(p) for p in spec.plan.get("payloads", [b"x"])]
        self.publisher: WsConnection | None = None
        self.publish_seq = 0
        self.pending_deliveries = 0
        self.published_at = 0
        self.subscribers_open = 0
        self.probing = False

    # connection bookkeeping -------------------------------------------------------------

    def attach(self, conn) -> None:
        self.live.add(conn)
        self.result.connections_opened += 1
        self.result.peak_connections = max(self.result.peak_connections, len(self.live))

    def mark_ready(self) -> None:
        self.ready += 1
        if self.ready >= self.spec.connections:
            self.all_ready.set()

    def detach(self, conn) -> None:
        self.live.discard(conn)
        if conn is self.publisher:
            self.publisher = None
        if not self.stopping:
            self.spawn(self.open_connection(conn.slot, delay=0.05))

    def spawn(self, coro) -> None:
        task = self.loop.create_task(coro)
        self.pending_tasks.add(task)
        task.add_done_callback(self.pending_tasks.discard)

    def protocol_factory(self, slot: int):
        if self.kind == "http":
            interval = 0
            due = 0
            if self.spec.rate:
                per_connection = self.spec.rate / self.spec.connections
                interval = int(1e9 / per_connection)
                due = self.start_ns + int(slot * 1e9 / self.spec.rate)
            source = self.make_source(self.spec.first_connection + slot)
            return lambda: HttpConnection(self, slot, source, interval, due)
        role = self.kind
        if self.kind == "ws_broadcast" and slot == 0 and self.spec.first_connection == 0:
            role = "publisher"
        path = self.plan["path"]
        handshake = handshake_request(path, self.plan["host_header"])
        return lambda: WsConnection(self, slot, role, handshake)

    async def open_connection(self, slot: int, delay: float = 0.0) -> None:
        if delay:
            await asyncio.sleep(delay)
        while not self.stopping:
            async with self.connect_gate:
                if self.stopping:
                    return
                started = monotonic_ns()
                try:
                    _, protocol = await asyncio.wait_for(
                        self.loop.create_connection(self.protocol_factory(slot), *self.address),
                        timeout=self.spec.timeout,
                    )
                except (TimeoutError, OSError) as exc:
                    if self.stopping:
                        return
                    if isinstance(exc, asyncio.TimeoutError):
                        self.result.count_error("connect", "timeout")
                    else:
                        name = errno.errorcode.get(exc.errno or 0, type(exc).__name__)
                        self.result.count_error("connect", name)
                else:
                    if self.kind == "http":
                        self.result.connect.record(monotonic_ns() - started)
                    return
            await asyncio.sleep(0.1)

    # WebSocket roles --------------------------------------------------------------------

    def on_ws_open(self, conn: WsConnection) -> None:
        if self.stopping:
            conn.close()
        elif conn.role == "ws_echo":
            self.send_echo(conn)
        elif conn.role == "publisher":
            self.publisher = conn
            self.subscribers_open += 1
            self.loop.call_later(0.2, self.publish)
        elif conn.role == "ws_broadcast":
            self.subscribers_open += 1

    def send_echo(self, conn: WsConnection) -> None:
        frames = self.echo_frames
        conn.send_frame(frames[self.result.sent % len(frames)])

    def on_ws_message(self, conn: WsConnection, payload: bytes) -> None:
        now = monotonic_ns()
        result = self.result
        if conn.role in ("ws_echo", "ws_idle"):
            if not conn.written_at:
                result.count_error("unexpected", "unsolicited message")
                return
            conn.written_at = 0
            if self.stopping:
                return
            result.latency.record(now - conn.start)
            result.completed += 1
            result.statuses[101] = result.statuses.get(101, 0) + 1
            if conn.role == "ws_echo":
                self.send_echo(conn)
            return
        # a room broadcast, to the publisher or a subscriber
        try:
            message = json.loads(payload)
            sent = message["data"]["t"]
            seq = message["data"]["seq"]
        except (ValueError, KeyError, TypeError):
            result.count_error("protocol", f"unexpected room message {payload[:60]!r}")
            return
        if conn is self.publisher:
            conn.written_at = 0
        if self.stopping:
            return
        result.latency.record(now - sent)
        result.completed += 1
        result.statuses[101] = result.statuses.get(101, 0) + 1
        if seq == self.publish_seq:
            self.pending_deliveries -= 1
            if self.pending_deliveries <= 0 and not self.spec.rate:
                self.publish()

    def publish(self) -> None:
        """Send the next room message: closed loop once everyone has the last one."""
        conn = self.publisher
        if self.stopping or conn is None or not conn.open:
            return
        now = monotonic_ns()
        if self.pending_deliveries > 0 and now - self.published_at < self.timeout_ns:
            if self.spec.rate:
                self.loop.call_later(1 / self.spec.rate, self.publish)
            return
        if self.pending_deliveries > 0:
            self.result.count_error("timeout", f"{self.pending_deliveries} deliveries missing")
        self.publish_seq += 1
        self.published_at = now
        self.pending_deliveries = self.subscribers_open
        body = {"type": "message", "data": {"seq": self.publish_seq, "t": now}}
        conn.send_text(json.dumps(body, separators=(",", ":")).encode(), now)
        if self.spec.rate:
            self.loop.call_later(1 / self.spec.rate, self.publish)

    def probe_idle(self) -> None:
        """Near the end of an idle hold, every connection proves it is alive with an echo."""
        self.probing = True
        for conn in list(self.live):
            if isinstance(conn, WsConnection) and conn.open and not conn.closing:
                self.send_echo(conn)

    # the run ----------------------------------------------------------------------------

    def sweep_timeouts(self) -> None:
        now = monotonic_ns()
        limit = self.timeout_ns
        for conn in list(self.live):
            written = conn.written_at
            if written and now - written > limit and not conn.closing:
                self.result.count_error("timeout")
                conn.written_at = 0
                conn.closing = True
                if conn is self.publisher:
                    self.publisher = None
                conn.transport.abort()
                self.live.discard(conn)
                if not self.stopping:
                    self.spawn(self.open_connection(conn.slot, delay=0.05))

    def reset_measurements(self) -> None:
        """Forget the warm-up: a fresh result that keeps the connection bookkeeping."""
        old = self.result
        fresh = WorkerResult()
        fresh.connections_opened = old.connections_opened
        fresh.peak_connections = old.peak_connections
        fresh.ramp_seconds = old.ramp_seconds
        fresh.ready_at_start = old.ready_at_start
        fresh.connect = old.connect
        self.result = fresh

    async def resolve(self) -> None:
        """Look the host up once, rather than once per connection."""
        infos = await self.loop.getaddrinfo(self.spec.host, self.spec.port, type=socket.SOCK_STREAM)
        self.address = infos[0][4][:2]

    async def ramp_up(self) -> None:
        """Open every connection before the clock starts (up to `timeout` seconds)."""
        for slot in range(self.spec.connections):
            self.spawn(self.open_connection(slot))
        # After the timeout, run with what is open; the rest keep trying and count errors.
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.all_ready.wait(), timeout=max(self.spec.timeout, 1.0))

    async def run(
        self,
        progress: Callable[[WorkerResult], None] | None = None,
        start_signal: Callable[[], Awaitable[int]] | None = None,
    ) -> WorkerResult:
        """Ramp up, run for the duration, shut down. `start_signal` (several workers) waits
        for the shared start time once this worker is ready."""
        spec = self.spec
        await self.resolve()
        ramp_started = monotonic_ns()
        self.start_ns = ramp_started  # provisional, for connections made while ramping
        await self.ramp_up()
        self.result.ramp_seconds = (monotonic_ns() - ramp_started) / 1e9
        self.result.ready_at_start = self.ready
        if start_signal is not None:
            start_at = await start_signal()
            await asyncio.sleep(max(0.0, (start_at - monotonic_ns()) / 1e9))
        self.start_ns = monotonic_ns()
        warmup_ends = self.start_ns + int(spec.warmup * 1e9)
        deadline = warmup_ends + int(spec.duration * 1e9)
        self.started = True
        for conn in list(self.live):
            if not isinstance(conn, WsConnection) or conn.open:
                conn.begin()
        if self.kind == "ws_idle":
            probe_at = spec.duration - min(2.0, spec.duration * 0.2)
            self.loop.call_later(max(0.0, probe_at), self.probe_idle)
        warming = spec.warmup > 0
        measured_from = self.start_ns
        while True:
            now = monotonic_ns()
            if now >= deadline:
                break
            if warming and now >= warmup_ends:
                warming = False
                measured_from = now
                self.reset_measurements()
            next_event = warmup_ends if warming else deadline
            await asyncio.sleep(min(SWEEP_SECONDS, max(0, next_event - now) / 1e9))
            self.sweep_timeouts()
            if progress is not None:
                progress(self.result)
        self.stopping = True
        self.result.elapsed = (monotonic_ns() - measured_from) / 1e9
        await self.shutdown()
        return self.result

    async def shutdown(self) -> None:
        for task in list(self.pending_tasks):
            task.cancel()
        for conn in list(self.live):
            if conn.written_at:
                self.result.unfinished += 1
            conn.close()
        for _ in range(20):  # let close frames and FINs go out
            if not self.live:
                break
            await asyncio.sleep(0.05)
        for conn in list(self.live):
            if conn.transport is not None:
                conn.transport.abort()
        await asyncio.sleep(0)


def new_event_loop() -> asyncio.AbstractEventLoop:
    """uvloop when it is installed, the standard loop otherwise."""
    try:
        import uvloop
    except ImportError:
        return asyncio.new_event_loop()
    return uvloop.new_event_loop()


def event_loop_name() -> str:
    try:
        import uvloop  # noqa: F401
    except ImportError:
        return "asyncio"
    return "uvloop"
