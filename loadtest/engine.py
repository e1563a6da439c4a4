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
import threading
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from loadtest.connections import HttpConnection, WsConnection
from loadtest.histogram import Histogram
from loadtest.result import WorkerResult
from loadtest.websocket import encode_frame, handshake_request

monotonic_ns = time.monotonic_ns
CONNECT_CONCURRENCY = 256  # connection attempts in flight at once while ramping up
SWEEP_SECONDS = 0.2
# An adaptive window closes once every held connection completed this many requests in it
# (and the level is steady and uncensored), or at its limit.
MIN_PER_CONNECTION = 3
LITTLE_TOLERANCE = 0.10
CENSOR_TOLERANCE = 0.10


@dataclass
class WorkerSpec:
    """Everything one worker process needs; plain data so it can cross processes."""

    host: str
    port: int
    scenario: str
    plan: dict
    connections: int
    duration: float  # the shortest measured window
    rate: float | None = None
    timeout: float = 10.0
    warmup: float = 0.0  # seconds of load before the measured window opens
    first_connection: int = 0  # global index of this worker's first connection
    max_duration: float | None = None  # the longest window; None: exactly `duration`


def little_off(in_flight: float, completed: int, elapsed: float, mean_ns: float) -> float | None:
    """How far Little's law is off: |in flight - throughput x mean latency| / in flight."""
    if in_flight <= 0 or elapsed <= 0:
        return None
    return abs(in_flight - completed / elapsed * mean_ns / 1e9) / in_flight


def censored(latency: Histogram, unfinished_age: Histogram) -> bool:
    """True when the requests still in flight, counted at their age so far (a lower bound
    of their latency), already raise the mean or p99 by more than the tolerance."""
    if not unfinished_age.count:
        return False
    if not latency.count:
        return True
    both = Histogram()
    both.merge(latency)
    both.merge(unfinished_age)
    limit = 1 + CENSOR_TOLERANCE
    return both.mean > latency.mean * limit or both.percentile(99) > latency.percentile(99) * limit


def thread_cpu() -> tuple[float, float]:
    """This thread's CPU time, and the time it waited, runnable, for a CPU (Linux)."""
    try:
        with open(f"/proc/self/task/{threading.get_native_id()}/schedstat") as stat:
            run_ns, wait_ns, _ = stat.read().split()
        return int(run_ns) / 1e9, int(wait_ns) / 1e9
    except (OSError, ValueError):
        return time.thread_time(), 0.0


class Worker:
    """Runs one WorkerSpec on the current event loop and fills a WorkerResult."""

    def __init__(self, spec: WorkerSpec, make_source: Callable[[int], object] | None) -> None:
        self.spec = spec
        self.make_source = make_source
        self.loop = asyncio.get_running_loop()
        self.result = WorkerResult()
        self.stopping = False
        self.started = False
        self.measuring = False
        self.ready_count = 0
        self.all_ready = asyncio.Event()
        self.address: tuple[str, int] = (spec.host, spec.port)
        self.live: set = set()
        self.timeout_ns = int(spec.timeout * 1e9)
        self.connect_gate = asyncio.Semaphore(CONNECT_CONCURRENCY)
        self.pending_tasks: set[asyncio.Task] = set()
        self.plan = spec.plan
        self.kind = spec.plan["kind"]
        # closed-loop request/response kinds: the window adapts to them
        self.adaptive = self.kind in ("http", "ws_echo") and not spec.rate
        self.in_flight_samples: list[int] = []
        self.response_shapes: dict[int, list] = {}  # see HttpConnection.data_received
        self.latencies: list[int] = []  # recorded since the last sweep, in ns
        self.due_writes: list = []  # connections whose next request goes out together
        # WebSocket scenario state
        self.awaits_join = self.kind == "ws_broadcast" and bool(spec.plan.get("joins"))
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

    def mark_ready(self, conn) -> None:
        self.ready_count += 1
        if self.ready_count >= self.spec.connections:
            self.all_ready.set()

    def detach(self, conn) -> None:
        if conn not in self.live:
            return
        self.live.discard(conn)
        if conn.ready:
            self.ready_count -= 1
        if conn is self.publisher:
            self.publisher = None
        if not self.stopping:
            self.spawn(self.open_connection(conn.slot, delay=0.05))

    def write_soon(self, conn) -> None:
        """Write `conn`'s next request together with the others answered in this turn of
        the loop. Measured against the ceiling target at 256 connections, writing the batch
        after the reads beat writing each request as its answer is read."""
        due = self.due_writes
        if not due:
            self.loop.call_soon(self.write_due)
        due.append(conn)

    def write_due(self) -> None:
        due, self.due_writes = self.due_writes, []
        now = monotonic_ns()  # latencies count from the write, as wrk's do
        for conn in due:
            if not conn.closing:
                conn.written_at = conn.start = now
                conn.transport.write(conn.fixed_request or conn.source.next())

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
            self.latencies.append(now - conn.start)
            result.completed += 1
            conn.done += 1
            result.statuses[101] = result.statuses.get(101, 0) + 1
            if conn.role == "ws_echo":
                self.send_echo(conn)
            return
        # a room: first (from services that confirm it) the join, then the broadcasts
        try:
            message = json.loads(payload)
            if message.get("type") == "joined":
                if not conn.joined:
                    conn.joined = True
                    if self.awaits_join:
                        conn.became_ready()
                return
            sent = message["data"]["t"]
            seq = message["data"]["seq"]
        except (ValueError, KeyError, TypeError, AttributeError):
            result.count_error("protocol", f"unexpected room message {payload[:60]!r}")
            return
        if conn is self.publisher:
            conn.written_at = 0
        if self.stopping:
            return
        self.latencies.append(now - sent)
        result.completed += 1
        conn.done += 1
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

    def fold_latencies(self) -> None:
        """Move what the hot path recorded since the last sweep into the result: the
        latencies, and the responses (each followed by a request) of known shapes."""
        result = self.result
        result.latency.record_many(self.latencies)
        self.latencies.clear()  # cleared in place: the connections hold its append
        statuses = result.statuses
        for shape in self.response_shapes.values():
            hits = shape[4]
            if hits:
                shape[4] = 0
                result.completed += hits
                result.sent += hits
                statuses[shape[3]] = statuses.get(shape[3], 0) + hits

    def sweep(self) -> None:
        """Abort requests older than the timeout; sample the requests in flight."""
        self.fold_latencies()
        now = monotonic_ns()
        limit = self.timeout_ns
        in_flight = 0
        for conn in list(self.live):
            written = conn.written_at
            if not written:
                continue
            if now - written > limit and not conn.closing:
                self.result.count_error("timeout")
                conn.written_at = 0
                conn.closing = True
                if conn is self.publisher:
                    self.publisher = None
                conn.transport.abort()
                self.detach(conn)
            else:
                in_flight += 1
        if self.measuring:
            self.in_flight_samples.append(in_flight)

    def open_window(self) -> None:
        """Forget the warm-up's figures (its errors are kept apart); mark the connections
        that are open now, the ones that can be held throughout."""
        self.fold_latencies()
        old = self.result
        fresh = WorkerResult()
        for name in ("connections_opened", "peak_connections", "ramp_seconds", "ready_at_start"):
            setattr(fresh, name, getattr(old, name))
        fresh.connect = old.connect
        fresh.errors_before = dict(old.errors)
        fresh.error_details_before = dict(old.error_details)
        self.result = fresh
        self.latencies.clear()  # the warm-up's
        for conn in self.live:
            conn.done = 0
            conn.held = conn.ready
        fresh.open_at_start = sum(1 for conn in self.live if conn.held)
        self.measuring = True
        self.in_flight_samples = []

    def held_connections(self) -> list:
        return [conn for conn in self.live if conn.held]

    def unfinished_ages(self, now: int) -> Histogram:
        ages = Histogram()
        for conn in self.live:
            if conn.written_at and not conn.closing:
                ages.record(now - conn.start)
        return ages

    def settled(self, elapsed: float) -> bool:
        """Every held connection did its share, Little's law holds and nothing still in
        flight would change the latency figures: the window can close."""
        held = self.held_connections()
        if any(conn.done < MIN_PER_CONNECTION for conn in held):
            return False
        self.fold_latencies()
        result = self.result
        samples = self.in_flight_samples
        if samples:
            off = little_off(
                sum(samples) / len(samples), result.completed, elapsed, result.latency.mean
            )
            if off is not None and off > LITTLE_TOLERANCE:
                return False
        return not censored(result.latency, self.unfinished_ages(monotonic_ns()))

    async def warm_up(self, until: int, limit: int) -> None:
        """Load without measuring: at least until `until`, and for closed-loop kinds until
        every open connection has had an answer (the first round after the ramp-up is a
        burst), at most until `limit`."""
        while True:
            now = monotonic_ns()
            if now >= limit:
                return
            if now >= until and (
                not self.adaptive or all(conn.done for conn in self.live if conn.ready)
            ):
                return
            await asyncio.sleep(min(SWEEP_SECONDS, max(0, until - now) / 1e9 or SWEEP_SECONDS))
            self.sweep()

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
        progress: Callable[[WorkerResult, int], None] | None = None,
        start_signal: Callable[[], Awaitable[int]] | None = None,
    ) -> WorkerResult:
        """Ramp up, warm up, measure, shut down. `start_signal` (several workers) waits
        for the shared start time once this worker is ready. `progress` gets the result
        so far and the number of connections open."""
        spec = self.spec
        await self.resolve()
        ramp_started = monotonic_ns()
        self.start_ns = ramp_started  # provisional, for connections made while ramping
        await self.ramp_up()
        self.result.ramp_seconds = (monotonic_ns() - ramp_started) / 1e9
        self.result.ready_at_start = self.ready_count
        if start_signal is not None:
            start_at = await start_signal()
            await asyncio.sleep(max(0.0, (start_at - monotonic_ns()) / 1e9))
        self.start_ns = monotonic_ns()
        self.started = True
        for conn in list(self.live):
            if conn.ready:
                conn.begin()
        if spec.warmup > 0:
            warm_until = self.start_ns + int(spec.warmup * 1e9)
            await self.warm_up(warm_until, warm_until + self.timeout_ns)
        self.open_window()
        opened = monotonic_ns()
        cpu_at_open, wait_at_open = thread_cpu()
        shortest = opened + int(spec.duration * 1e9)
        longest = opened + int(max(spec.max_duration or 0, spec.duration) * 1e9)
        if self.kind == "ws_idle":
            probe_in = spec.duration - min(2.0, spec.duration * 0.2)
            self.loop.call_later(max(0.0, probe_in), self.probe_idle)
        while True:
            now = monotonic_ns()
            if now >= shortest and (
                now >= longest or not self.adaptive or self.settled((now - opened) / 1e9)
            ):
                self.result.window_limit_hit = self.adaptive and now >= longest
                break
            next_stop = shortest if now < shortest else longest
            await asyncio.sleep(min(SWEEP_SECONDS, max(0, next_stop - now) / 1e9))
            self.sweep()
            if progress is not None:
                progress(self.result, self.ready_count)
        self.close_window(opened, cpu_at_open, wait_at_open)
        await self.shutdown()
        return self.result

    def close_window(self, opened: int, cpu_at_open: float, wait_at_open: float) -> None:
        now = monotonic_ns()
        self.stopping = True
        self.measuring = False
        self.fold_latencies()
        result = self.result
        cpu, wait = thread_cpu()
        result.cpu_seconds = cpu - cpu_at_open
        result.cpu_wait_seconds = wait - wait_at_open
        result.elapsed = (now - opened) / 1e9
        result.window_start_ns, result.window_end_ns = opened, now
        result.warmup_seconds = (opened - self.start_ns) / 1e9
        result.unfinished_age = self.unfinished_ages(now)
        result.unfinished = result.unfinished_age.count
        result.held = sum(1 for conn in self.live if conn.held and conn.done)
        samples = self.in_flight_samples
        result.in_flight_mean = sum(samples) / len(samples) if samples else 0.0
        if result.elapsed > 0:
            ok = sum(n for status, n in result.statuses.items() if is_success(status))
            result.completed_per_second = result.completed / result.elapsed
            result.ok_per_second = ok / result.elapsed

    async def shutdown(self) -> None:
        for task in list(self.pending_tasks):
            task.cancel()
        for conn in list(self.live):
            conn.close()
        for _ in range(20):  # let close frames and FINs go out
            if not self.live:
                break
            await asyncio.sleep(0.05)
        for conn in list(self.live):
            if conn.transport is not None:
                conn.transport.abort()
        await asyncio.sleep(0)


def is_success(status: int) -> bool:
    return 200 <= status < 300 or status == 101


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
