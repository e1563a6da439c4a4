"""The server's own CPU time and memory, read from /proc while the load runs.

CPU time per request holds on a shared machine where requests per second do not: a
neighbour's load slows the server down, but each request still costs what it costs.
"""

from __future__ import annotations

import bisect
import os
import threading
import time
from pathlib import Path

CLOCK_TICKS = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100
PAGE_SIZE = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096
SAMPLE_SECONDS = 0.1


def children(pid: int) -> list[int]:
    found: list[int] = []
    try:
        for task in Path(f"/proc/{pid}/task").iterdir():
            text = (task / "children").read_text()
            found += [int(child) for child in text.split()]
    except OSError:
        pass
    return found


def process_tree(pid: int) -> list[int]:
    tree, todo = [], [pid]
    while todo:
        current = todo.pop()
        tree.append(current)
        todo += children(current)
    return tree


def cpu_ticks(pid: int, include_reaped: bool) -> int:
    """utime + stime (and, for the root, the time of the children it has reaped)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return 0
    # fields[0] is field 3 (state): utime is field 14, stime 15, cutime 16, cstime 17
    ticks = int(fields[11]) + int(fields[12])
    if include_reaped:
        ticks += int(fields[13]) + int(fields[14])
    return ticks


def rss_bytes(pid: int) -> int:
    try:
        return int(Path(f"/proc/{pid}/statm").read_text().split()[1]) * PAGE_SIZE
    except (OSError, IndexError, ValueError):
        return 0


def sample(pid: int) -> tuple[int, float, int, int]:
    """(monotonic ns, CPU seconds, RSS bytes, processes) of the process and its tree."""
    tree = process_tree(pid)
    ticks = sum(cpu_ticks(p, include_reaped=p == pid) for p in tree)
    return time.monotonic_ns(), ticks / CLOCK_TICKS, sum(rss_bytes(p) for p in tree), len(tree)


class ServerMonitor:
    """Samples a server's process tree in a background thread until stopped."""

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.samples: list[tuple[int, float, int, int]] = [sample(pid)]
        self.idle_rss = self.samples[0][2]
        self.stopped = threading.Event()
        self.lock = threading.Lock()
        self.thread = threading.Thread(target=self.loop, name="server-monitor", daemon=True)
        self.thread.start()

    def loop(self) -> None:
        while not self.stopped.wait(SAMPLE_SECONDS):
            taken = sample(self.pid)
            with self.lock:
                self.samples.append(taken)

    def stop(self) -> None:
        self.stopped.set()
        self.thread.join(timeout=2)

    def mark_idle(self) -> None:
        """The memory the server holds with no load on it, the baseline per connection."""
        self.idle_rss = sample(self.pid)[2]

    def cpu_at(self, at_ns: int) -> float:
        """CPU seconds used by `at_ns`, interpolated between samples."""
        with self.lock:
            samples = list(self.samples)
        times = [s[0] for s in samples]
        i = bisect.bisect_left(times, at_ns)
        if i == 0:
            return samples[0][1]
        if i >= len(samples):
            return samples[-1][1]
        (t0, c0, _, _), (t1, c1, _, _) = samples[i - 1], samples[i]
        return c0 + (c1 - c0) * (at_ns - t0) / (t1 - t0) if t1 > t0 else c1

    def usage(self, start_ns: int, end_ns: int, requests: int) -> dict:
        """The server's CPU and memory over one measured window."""
        deadline = time.monotonic() + 1.0
        while self.samples[-1][0] < end_ns and time.monotonic() < deadline:
            time.sleep(SAMPLE_SECONDS / 2)  # wait for a sample after the window
        cpu = max(0.0, self.cpu_at(end_ns) - self.cpu_at(start_ns))
        with self.lock:
            inside = [s for s in self.samples if start_ns <= s[0] <= end_ns] or self.samples[-1:]
        seconds = max(1e-9, (end_ns - start_ns) / 1e9)
        rss = max(s[2] for s in inside)
        return {
            "cpu_seconds": round(cpu, 3),
            "cpu_percent": round(100 * cpu / seconds, 1),
            "cpu_ms_per_1000": round(cpu * 1e6 / requests, 1) if requests else None,
            "rss_mib": round(rss / 2**20, 1),
            "idle_rss_mib": round(self.idle_rss / 2**20, 1),
            "processes": max(s[3] for s in inside),
        }
