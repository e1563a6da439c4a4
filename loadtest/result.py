"""What one worker measured: histograms and counters that merge across processes."""

from __future__ import annotations

from dataclasses import dataclass, field

from loadtest.histogram import Histogram

# Counters that add up when worker results merge.
SUMMED = (
    "completed",
    "sent",
    "connections_opened",
    "peak_connections",
    "open_at_start",
    "held",
    "unfinished",
    "ready_at_start",
    "in_flight_mean",
    "completed_per_second",
    "ok_per_second",
    "cpu_seconds",
    "cpu_wait_seconds",
    "processes",
)


def add_counts(counts: dict, more: dict) -> None:
    for key, n in more.items():
        counts[key] = counts.get(key, 0) + n


@dataclass
class WorkerResult:
    latency: Histogram = field(default_factory=Histogram)
    connect: Histogram = field(default_factory=Histogram)
    # ages of the requests still in flight when the window closed (their latency is longer)
    unfinished_age: Histogram = field(default_factory=Histogram)
    completed: int = 0
    statuses: dict[int, int] = field(default_factory=dict)
    errors: dict[str, int] = field(default_factory=dict)  # inside the measured window
    error_details: dict[str, int] = field(default_factory=dict)
    # ramp-up and warm-up: not in the window's rates, but never forgotten
    errors_before: dict[str, int] = field(default_factory=dict)
    error_details_before: dict[str, int] = field(default_factory=dict)
    connections_opened: int = 0  # successful connects, reconnects included
    peak_connections: int = 0  # most connections open at once
    open_at_start: int = 0  # open when the window opened
    held: int = 0  # open from the window's start to its end, and answered in it
    unfinished: int = 0
    sent: int = 0
    elapsed: float = 0.0
    ramp_seconds: float = 0.0
    warmup_seconds: float = 0.0
    ready_at_start: int = 0
    in_flight_mean: float = 0.0  # time-averaged requests in flight during the window
    completed_per_second: float = 0.0  # per worker, summed on merge
    ok_per_second: float = 0.0
    cpu_seconds: float = 0.0  # the worker's own CPU time during the window
    cpu_wait_seconds: float = 0.0  # time it was ready to run but waited for a CPU
    processes: int = 1
    window_start_ns: int = 0
    window_end_ns: int = 0
    window_limit_hit: bool = False  # the window stopped at its limit, not when settled

    def count_error(self, kind: str, detail: str | None = None) -> None:
        self.errors[kind] = self.errors.get(kind, 0) + 1
        if detail:
            key = f"{kind}: {detail}"
            self.error_details[key] = self.error_details.get(key, 0) + 1

    def to_dict(self) -> dict:
        data = {
            name: getattr(self, name)
            for name in (
                *SUMMED,
                "errors",
                "error_details",
                "errors_before",
                "error_details_before",
                "elapsed",
                "ramp_seconds",
                "warmup_seconds",
                "window_start_ns",
                "window_end_ns",
                "window_limit_hit",
            )
        }
        data["statuses"] = {str(k): v for k, v in self.statuses.items()}
        for name in ("latency", "connect", "unfinished_age"):
            data[name] = getattr(self, name).to_dict()
        return data

    @classmethod
    def from_dict(cls, data: dict) -> WorkerResult:
        result = cls()
        for name, value in data.items():
            if name in ("latency", "connect", "unfinished_age"):
                value = Histogram.from_dict(value)
            elif name == "statuses":
                value = {int(k): v for k, v in value.items()}
            setattr(result, name, value)
        return result

    def merge(self, other: WorkerResult) -> None:
        self.latency.merge(other.latency)
        self.connect.merge(other.connect)
        self.unfinished_age.merge(other.unfinished_age)
        for name in SUMMED:
            setattr(self, name, getattr(self, name) + getattr(other, name))
        for counts, more in (
            (self.statuses, other.statuses),
            (self.errors, other.errors),
            (self.error_details, other.error_details),
            (self.errors_before, other.errors_before),
            (self.error_details_before, other.error_details_before),
        ):
            add_counts(counts, more)
        self.elapsed = max(self.elapsed, other.elapsed)
        self.ramp_seconds = max(self.ramp_seconds, other.ramp_seconds)
        self.warmup_seconds = max(self.warmup_seconds, other.warmup_seconds)
        starts = [t for t in (self.window_start_ns, other.window_start_ns) if t]
        self.window_start_ns = min(starts) if starts else 0
        self.window_end_ns = max(self.window_end_ns, other.window_end_ns)
        self.window_limit_hit = self.window_limit_hit or other.window_limit_hit
