"""What one worker measured: histograms and counters that merge across processes."""

from __future__ import annotations

from dataclasses import dataclass, field

from loadtest.histogram import Histogram


@dataclass
class WorkerResult:
    latency: Histogram = field(default_factory=Histogram)
    connect: Histogram = field(default_factory=Histogram)
    completed: int = 0
    statuses: dict[int, int] = field(default_factory=dict)
    errors: dict[str, int] = field(default_factory=dict)
    error_details: dict[str, int] = field(default_factory=dict)
    connections_opened: int = 0
    peak_connections: int = 0
    unfinished: int = 0
    sent: int = 0
    elapsed: float = 0.0
    ramp_seconds: float = 0.0
    ready_at_start: int = 0

    def count_error(self, kind: str, detail: str | None = None) -> None:
        self.errors[kind] = self.errors.get(kind, 0) + 1
        if detail:
            key = f"{kind}: {detail}"
            self.error_details[key] = self.error_details.get(key, 0) + 1

    def to_dict(self) -> dict:
        return {
            "latency": self.latency.to_dict(),
            "connect": self.connect.to_dict(),
            "completed": self.completed,
            "statuses": {str(k): v for k, v in self.statuses.items()},
            "errors": self.errors,
            "error_details": self.error_details,
            "connections_opened": self.connections_opened,
            "peak_connections": self.peak_connections,
            "unfinished": self.unfinished,
            "sent": self.sent,
            "elapsed": self.elapsed,
            "ramp_seconds": self.ramp_seconds,
            "ready_at_start": self.ready_at_start,
        }

    @classmethod
    def from_dict(cls, data: dict) -> WorkerResult:
        result = cls(
            latency=Histogram.from_dict(data["latency"]),
            connect=Histogram.from_dict(data["connect"]),
        )
        result.completed = data["completed"]
        result.statuses = {int(k): v for k, v in data["statuses"].items()}
        result.errors = dict(data["errors"])
        result.error_details = dict(data["error_details"])
        for name in (
            "connections_opened",
            "peak_connections",
            "unfinished",
            "sent",
            "elapsed",
            "ramp_seconds",
            "ready_at_start",
        ):
            setattr(result, name, data[name])
        return result

    def merge(self, other: WorkerResult) -> None:
        self.latency.merge(other.latency)
        self.connect.merge(other.connect)
        self.completed += other.completed
        for counts, more in (
            (self.statuses, other.statuses),
            (self.errors, other.errors),
            (self.error_details, other.error_details),
        ):
            for key, n in more.items():
                counts[key] = counts.get(key, 0) + n
        self.connections_opened += other.connections_opened
        self.peak_connections += other.peak_connections
        self.unfinished += other.unfinished
        self.sent += other.sent
        self.elapsed = max(self.elapsed, other.elapsed)
        self.ramp_seconds = max(self.ramp_seconds, other.ramp_seconds)
        self.ready_at_start += other.ready_at_start
