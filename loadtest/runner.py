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
from loadtest.engine import Worker, WorkerResult, WorkerSpec, event_loop_name, new_event_loop

ProgressFn = Callable[[int, int, float], None]  # completed, errors, elapsed seconds


def run_worker(
    spec: WorkerSpec,
    progress: Callable[[WorkerResult], None] | None = None,
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

    def progress(result: WorkerResult) -> None:
        counters[2 * index] = result.completed
        counters[2 * index + 1] = count_failures(result)

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
) -> dict:
    """Drive the load and return the merged measurements as a JSON-ready dict."""
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
    )
    if workers == 1:
        last = [0.0]

        def report(result: WorkerResult) -> None:
            now = time.monotonic()
            if progress is not None and now - last[0] >= 0.5:
                last[0] = now
                progress(result.completed, count_failures(result), now - started)

        spec = WorkerSpec(**base, connections=connections, rate=rate)
        merged = run_worker(spec, report)
    else:
        merged = _run_processes(base, connections, rate, workers, progress, started)
    return summarize(scenario, merged, connections, duration, rate, workers)


def _run_processes(base, connections, rate, workers, progress, started) -> WorkerResult:
    context = multiprocessing.get_context("spawn")
    counters = context.Array("q", 2 * workers, lock=False)
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
    merged = WorkerResult()
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
            completed = sum(counters[0::2])
            errors = sum(counters[1::2])
            progress(completed, errors, time.monotonic() - started)
    return merged


def is_success(status: int) -> bool:
    return 200 <= status < 300 or status == 101


def summarize(
    scenario: scenarios.Scenario,
    result: WorkerResult,
    connections: int,
    duration: float,
    rate: float | None,
    workers: int,
) -> dict:
    errors = dict(result.errors)
    for status, n in result.statuses.items():
        if not is_success(status):
            errors[f"status {status}"] = errors.get(f"status {status}", 0) + n
    total_errors = sum(errors.values())
    elapsed = result.elapsed or duration
    ok = sum(n for status, n in result.statuses.items() if is_success(status))
    attempts = result.completed + sum(result.errors.values())
    return {
        "scenario": scenario.name,
        "kind": scenario.kind,
        "connections": connections,
        "rate": rate,
        "duration": round(elapsed, 3),
        "workers": workers,
        "event_loop": event_loop_name(),
        "requests": result.completed,
        "sent": result.sent,
        "ok": ok,
        "rps": round(result.completed / elapsed, 1),
        "ok_rps": round(ok / elapsed, 1),
        "latency_ms": result.latency.summary(),
        "connect_ms": result.connect.summary(),
        "statuses": {str(k): v for k, v in sorted(result.statuses.items())},
        "errors": errors,
        "error_details": result.error_details,
        "error_rate": round(total_errors / attempts, 5) if attempts else 0.0,
        "connections_opened": result.connections_opened,
        "peak_connections": result.peak_connections,
        "unfinished": result.unfinished,
        "histogram": result.latency.to_dict(),
    }


class ProgressLine:
    """A live one-line progress display on stderr (a line every few seconds when piped)."""

    def __init__(self, label: str, duration: float, stream=sys.stderr) -> None:
        self.label = label
        self.duration = duration
        self.stream = stream
        self.tty = stream.isatty()
        self.last_completed = 0
        self.last_time = 0.0
        self.last_print = -10.0

    def __call__(self, completed: int, errors: int, elapsed: float) -> None:
        window = elapsed - self.last_time
        if window <= 0:
            return
        rate = (completed - self.last_completed) / window
        self.last_completed, self.last_time = completed, elapsed
        if not self.tty and elapsed - self.last_print < 5:
            return
        self.last_print = elapsed
        text = (
            f"{self.label}  {min(elapsed, self.duration):5.1f}/{self.duration:g}s  "
            f"{completed:>10,} done  {rate:>10,.0f}/s  errors {errors:,}"
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
