"""Runs one scenario at one concurrency level: in this process, or in several worker
processes whose histograms and counters are merged."""

from __future__ import annotations

import asyncio
import multiprocessing
import sys
import time
from collections.abc import Callable
from dataclasses import asdict

from loadtest import scenarios
from loadtest.engine import (
    LITTLE_TOLERANCE,
    Worker,
    WorkerSpec,
    censored,
    event_loop_name,
    is_success,
    little_off,
    new_event_loop,
)
from loadtest.histogram import Histogram
from loadtest.limits import cpu_count
from loadtest.markers import level_markers
from loadtest.result import WorkerResult

ProgressFn = Callable[[int, int, float, int], None]  # completed, errors, seconds, open
GENERATOR_BOUND = 0.90  # of the generator's cores, used or waited for


class WindowError(ValueError):
    """A timeout that could never fire inside the measured window."""


def check_window(timeout: float, duration: float, max_duration: float | None) -> None:
    longest = max(duration, max_duration or 0)
    if timeout >= longest:
        raise WindowError(
            f"the timeout ({timeout:g} s) must be shorter than the measured window "
            f"({longest:g} s): a request slower than the window could never time out inside "
            "it, and its latency would go unseen. Use a shorter --timeout or a longer "
            "--duration / --max-duration."
        )


def run_worker(
    spec: WorkerSpec,
    progress: Callable[[WorkerResult, int], None] | None = None,
    wait_for_start: Callable[[], int] | None = None,
) -> WorkerResult:
    async def main() -> WorkerResult:
        make_source = None
        if spec.plan["kind"] == "http":
            plan = spec.plan

            def make_source(connection: int):
                return scenarios.make_source(plan, connection)

        start_signal = None
        if wait_for_start is not None:

            async def start_signal() -> int:
                return await asyncio.get_running_loop().run_in_executor(None, wait_for_start)

        return await Worker(spec, make_source).run(progress, start_signal)

    with asyncio.Runner(loop_factory=new_event_loop) as runner:
        return runner.run(main())


def _child(spec_data: dict, pipe, counters, index: int) -> None:
    spec = WorkerSpec(**spec_data)

    def wait_for_start() -> int:
        pipe.send("ready")  # every connection is open
        return pipe.recv()

    def progress(result: WorkerResult, open_now: int) -> None:
        counters[3 * index] = result.completed
        counters[3 * index + 1] = count_failures(result)
        counters[3 * index + 2] = open_now

    result = run_worker(spec, progress, wait_for_start)
    pipe.send(result.to_dict())
    pipe.close()


def count_failures(result: WorkerResult) -> int:
    """Transport errors plus responses with a failing status."""
    bad = sum(n for status, n in result.statuses.items() if not is_success(status))
    return sum(result.errors.values()) + bad


def split(total: int, parts: int) -> list[int]:
    return [total // parts + (1 if i < total % parts else 0) for i in range(parts)]


def run_level(
    host: str,
    port: int,
    scenario: scenarios.Scenario,
    plan: dict,
    connections: int,
    duration: float,
    rate: float | None = None,
    timeout: float = 10.0,
    workers: int = 1,
    progress: ProgressFn | None = None,
    warmup: float = 0.0,
    max_duration: float | None = None,
) -> dict:
    """Drive the load and return the merged measurements as a JSON-ready dict.

    The window lasts `duration`, and for closed-loop levels that have not settled yet
    (every connection a few answers, Little's law holding, nothing censored) up to
    `max_duration`."""
    check_window(timeout, duration, max_duration)
    if scenario.kind == "ws_broadcast":
        workers = 1  # the closed-loop publisher needs every subscriber in its own process
    workers = max(1, min(workers, connections))
    started = time.monotonic()
    base = dict(
        host=host,
        port=port,
        scenario=scenario.name,
        plan=plan,
        duration=duration,
        timeout=timeout,
        warmup=warmup,
        max_duration=max_duration,
    )
    if workers == 1:
        last = [0.0]

        def report(result: WorkerResult, open_now: int) -> None:
            now = time.monotonic()
            if progress is not None and now - last[0] >= 0.5:
                last[0] = now
                progress(result.completed, count_failures(result), now - started, open_now)

        spec = WorkerSpec(**base, connections=connections, rate=rate)
        merged = run_worker(spec, report)
    else:
        merged = _run_processes(base, connections, rate, workers, progress, started)
    return summarize(scenario, merged, connections, duration, rate, workers, timeout)


def _run_processes(base, connections, rate, workers, progress, started) -> WorkerResult:
    context = multiprocessing.get_context("spawn")
    counters = context.Array("q", 3 * workers, lock=False)
    children = []
    first = 0
    for index, share in enumerate(split(connections, workers)):
        spec = WorkerSpec(
            **base,
            connections=share,
            rate=rate * share / connections if rate else None,
            first_connection=first,
        )
        first += share
        parent_end, child_end = context.Pipe()
        process = context.Process(
            target=_child, args=(asdict(spec), child_end, counters, index), daemon=True
        )
        process.start()
        children.append((process, parent_end))
    for process, pipe in children:
        while not pipe.poll(0.5):  # each worker says when its connections are open
            if not process.is_alive():
                raise RuntimeError("a load worker process died while starting")
        pipe.recv()
    start_at = time.monotonic_ns() + 100_000_000
    for _, pipe in children:
        pipe.send(start_at)
    merged = WorkerResult(processes=0)
    waiting = {pipe: process for process, pipe in children}
    while waiting:
        for pipe in list(waiting):
            if pipe.poll(0.5):
                merged.merge(WorkerResult.from_dict(pipe.recv()))
                waiting.pop(pipe).join()
            elif not waiting[pipe].is_alive():
                waiting.pop(pipe)
                merged.count_error("worker", "a load worker process died")
        if progress is not None and waiting:
            completed = sum(counters[0::3])
            errors = sum(counters[1::3])
            progress(completed, errors, time.monotonic() - started, sum(counters[2::3]))
    return merged


def generator_cores(processes: int) -> int:
    """The cores the generator's processes could use at once."""
    return max(1, min(processes, cpu_count()))


def summarize(
    scenario: scenarios.Scenario,
    result: WorkerResult,
    connections: int,
    duration: float,
    rate: float | None,
    workers: int,
    timeout: float = 0.0,
) -> dict:
    errors = dict(result.errors)
    for status, n in result.statuses.items():
        if not is_success(status):
            errors[f"status {status}"] = errors.get(f"status {status}", 0) + n
    total_errors = sum(errors.values())
    elapsed = result.elapsed or duration
    ok = sum(n for status, n in result.statuses.items() if is_success(status))
    attempts = result.completed + sum(result.errors.values())
    cores = generator_cores(result.processes)
    busy = (result.cpu_seconds + result.cpu_wait_seconds) / (elapsed * cores)
    closed_loop = not rate and scenario.kind in ("http", "ws_echo")
    off = (
        little_off(result.in_flight_mean, result.completed, elapsed, result.latency.mean)
        if closed_loop
        else None
    )
    with_unfinished = Histogram()
    with_unfinished.merge(result.latency)
    with_unfinished.merge(result.unfinished_age)
    level = {
        "scenario": scenario.name,
        "kind": scenario.kind,
        "connections": connections,
        "rate": rate,
        "duration": round(elapsed, 3),
        "window": {
            "shortest": duration,
            "seconds": round(elapsed, 3),
            "limit_hit": result.window_limit_hit,
            "warmup_seconds": round(result.warmup_seconds, 3),
            "ramp_seconds": round(result.ramp_seconds, 3),
            "start_ns": result.window_start_ns,
            "end_ns": result.window_end_ns,
        },
        "timeout": timeout,
        "workers": workers,
        "event_loop": event_loop_name(),
        "target": connections,
        "opened": result.peak_connections,
        "open_at_start": result.open_at_start,
        "held": result.held,
        "reached": result.held >= connections,
        "connects": result.connections_opened,
        "connect_failures": {
            "before_window": result.errors_before.get("connect", 0),
            "in_window": result.errors.get("connect", 0),
        },
        "errors_before_window": result.errors_before,
        "error_details_before_window": result.error_details_before,
        "requests": result.completed,
        "sent": result.sent,
        "ok": ok,
        "rps": round(result.completed_per_second, 1),
        "ok_rps": round(result.ok_per_second, 1),
        "latency_ms": result.latency.summary(),
        "connect_ms": result.connect.summary(),
        "statuses": {str(k): v for k, v in sorted(result.statuses.items())},
        "errors": errors,
        "error_details": result.error_details,
        "error_rate": round(total_errors / attempts, 5) if attempts else 0.0,
        "peak_connections": result.peak_connections,
        "connections_opened": result.connections_opened,
        "unfinished": result.unfinished,
        "unfinished_age_ms": result.unfinished_age.summary(),
        "latency_with_unfinished_ms": with_unfinished.summary(),
        "censored": censored(result.latency, result.unfinished_age),
        "littles_law": {
            "in_flight": round(result.in_flight_mean, 1),
            "throughput_x_latency": round(
                result.completed / elapsed * result.latency.mean / 1e9, 1
            ),
            "off": None if off is None else round(off, 4),
        },
        "steady": None if off is None else off <= LITTLE_TOLERANCE,
        "generator": {
            "processes": result.processes,
            "cores": cores,
            "cpu_seconds": round(result.cpu_seconds, 3),
            "cpu_wait_seconds": round(result.cpu_wait_seconds, 3),
            "cpu_percent": round(100 * result.cpu_seconds / (elapsed * cores), 1),
            "busy_percent": round(100 * busy, 1),
            "bound": busy > GENERATOR_BOUND,
        },
        "histogram": result.latency.to_dict(),
        "unfinished_histogram": result.unfinished_age.to_dict(),
    }
    level["markers"] = level_markers(level)
    return level


class ProgressLine:
    """A live one-line progress display on stderr (a line every few seconds when piped).

    It shows how many of the level's connections are open, so a level that never
    reaches its target says so while it runs."""

    def __init__(self, label: str, duration: float, target: int = 0, stream=sys.stderr) -> None:
        self.label = label
        self.duration = duration
        self.target = target
        self.stream = stream
        self.tty = stream.isatty()
        self.last_completed = 0
        self.last_time = 0.0
        self.last_print = -10.0

    def __call__(self, completed: int, errors: int, elapsed: float, open_now: int = 0) -> None:
        window = elapsed - self.last_time
        if window <= 0:
            return
        rate = (completed - self.last_completed) / window
        self.last_completed, self.last_time = completed, elapsed
        if not self.tty and elapsed - self.last_print < 5:
            return
        self.last_print = elapsed
        held = ""
        if self.target:
            held = f"  open {open_now:,}/{self.target:,}"
            if open_now < self.target:
                held += f" (reached {open_now:,} of {self.target:,})"
        text = (
            f"{self.label}  {elapsed:5.1f}s (window {self.duration:g}s+)  "
            f"{completed:>10,} done  {rate:>10,.0f}/s  errors {errors:,}{held}"
        )
        if self.tty:
            self.stream.write("\r" + text + "\x1b[K")
        else:
            self.stream.write(text + "\n")
        self.stream.flush()

    def done(self) -> None:
        if self.tty:
            self.stream.write("\r\x1b[K")
            self.stream.flush()
