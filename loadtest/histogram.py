"""A log-linear latency histogram in the style of HdrHistogram.

Values are integers (the engine records nanoseconds). Every value lands in a bucket whose
width is at most 1/1024 of the value, so any percentile is exact to three significant
digits. Histograms from several worker processes merge by adding their counts.
"""

from __future__ import annotations

from collections import Counter

try:  # numpy folds a sweep's latencies several times faster; the engine works without it
    import numpy
except ImportError:  # pragma: no cover - exercised by forcing FAST_FOLD off in the tests
    numpy = None

SUB_BUCKET_BITS = 11  # 2048 sub-buckets: three significant decimal digits
SUB_BUCKET_COUNT = 1 << SUB_BUCKET_BITS
SUB_BUCKET_MASK = SUB_BUCKET_COUNT - 1
HALF_SHIFT = SUB_BUCKET_BITS - 1
MAX_VALUE_BITS = 42  # 2**42 ns is about 73 minutes; larger values are clamped
MAX_VALUE = (1 << MAX_VALUE_BITS) - 1


def bucket_index(value: int) -> int:
    """The counts index of a non-negative integer value."""
    shift = (value | SUB_BUCKET_MASK).bit_length() - SUB_BUCKET_BITS
    return (shift << HALF_SHIFT) + (value >> shift)


def bucket_bounds(index: int) -> tuple[int, int]:
    """The lowest and highest value that share a counts index."""
    if index < SUB_BUCKET_COUNT:
        return index, index
    shift = (index >> HALF_SHIFT) - 1
    sub = index - (shift << HALF_SHIFT)
    return sub << shift, ((sub + 1) << shift) - 1


COUNTS_LENGTH = bucket_index(MAX_VALUE) + 1
# Fold with numpy when there is numpy: the fold is the engine's largest cost in Python after
# the socket calls. Values stay below 2**53, so float64 holds them exactly.
FAST_FOLD = numpy is not None


def bucket_counts(values: list[int]) -> dict[int, int]:
    """How many of `values` (non-negative, at most MAX_VALUE) fall in each counts index."""
    if FAST_FOLD:
        array = numpy.fromiter(values, dtype=numpy.int64, count=len(values))
        # frexp's exponent of a positive integer is its bit length
        shift = numpy.frexp((array | SUB_BUCKET_MASK).astype(numpy.float64))[1] - SUB_BUCKET_BITS
        counts = numpy.bincount((shift.astype(numpy.int64) << HALF_SHIFT) + (array >> shift))
        indexes = numpy.flatnonzero(counts)
        return dict(zip(indexes.tolist(), counts[indexes].tolist(), strict=True))
    mask, bits, half = SUB_BUCKET_MASK, SUB_BUCKET_BITS, HALF_SHIFT
    return Counter(
        ((shift << half) + (v >> shift))
        for v in values
        for shift in ((v | mask).bit_length() - bits,)
    )


class Histogram:
    """Counts of integer values, with exact count, sum, min and max alongside."""

    __slots__ = ("counts", "count", "total", "min", "max")

    def __init__(self) -> None:
        self.counts = [0] * COUNTS_LENGTH
        self.count = 0
        self.total = 0
        self.min = 0
        self.max = 0

    def record(self, value: int) -> None:
        """Count one non-negative value (this runs once per request: keep it lean)."""
        if value > self.max:
            if value > MAX_VALUE:
                value = MAX_VALUE
            self.max = value
        if value < self.min or not self.count:
            self.min = max(value, 0)
        shift = (value | SUB_BUCKET_MASK).bit_length() - SUB_BUCKET_BITS
        self.counts[(shift << HALF_SHIFT) + (value >> shift)] += 1
        self.count += 1
        self.total += value

    def record_many(self, values: list[int]) -> None:
        """Count many non-negative values at once: the engine's hot path appends to a
        list and this folds the list in, which costs far less per value than record()."""
        if not values:
            return
        low, high = min(values), max(values)
        if high > MAX_VALUE or low < 0:
            values = [min(max(v, 0), MAX_VALUE) for v in values]
            low, high = min(values), max(values)
        counts = self.counts
        for index, n in bucket_counts(values).items():
            counts[index] += n
        self.min = low if not self.count else min(self.min, low)
        self.max = max(self.max, high)
        self.count += len(values)
        self.total += sum(values)

    def merge(self, other: Histogram) -> None:
        if other.count == 0:
            return
        counts = self.counts
        for index, n in enumerate(other.counts):
            if n:
                counts[index] += n
        self.min = other.min if self.count == 0 else min(self.min, other.min)
        self.max = max(self.max, other.max)
        self.count += other.count
        self.total += other.total

    @property
    def mean(self) -> float:
        return self.total / self.count if self.count else 0.0

    def percentile(self, pct: float) -> int:
        """The smallest recorded value (to bucket precision) at or above `pct` percent."""
        if self.count == 0:
            return 0
        rank = max(1, -(-self.count * pct // 100))  # ceil without float surprises
        seen = 0
        for index, n in enumerate(self.counts):
            if n:
                seen += n
                if seen >= rank:
                    return min(bucket_bounds(index)[1], self.max)
        return self.max

    def percentiles(self, pcts: list[float]) -> list[int]:
        """Several percentiles (ascending) in one pass over the buckets."""
        if self.count == 0:
            return [0] * len(pcts)
        ranks = [max(1, -(-self.count * pct // 100)) for pct in pcts]
        found: list[int] = []
        seen = 0
        for index, n in enumerate(self.counts):
            if not n:
                continue
            seen += n
            while len(found) < len(ranks) and seen >= ranks[len(found)]:
                found.append(min(bucket_bounds(index)[1], self.max))
            if len(found) == len(ranks):
                break
        return found + [self.max] * (len(ranks) - len(found))

    def summary(self, scale: float = 1e-6) -> dict[str, float | int]:
        """p50/p90/p99/p99.9/max/mean, scaled (default: nanoseconds to milliseconds)."""
        return {
            "count": self.count,
            "mean": round(self.mean * scale, 4),
            "p50": round(self.percentile(50) * scale, 4),
            "p90": round(self.percentile(90) * scale, 4),
            "p99": round(self.percentile(99) * scale, 4),
            "p99_9": round(self.percentile(99.9) * scale, 4),
            "max": round(self.max * scale, 4),
            "min": round(self.min * scale, 4),
        }

    def to_dict(self) -> dict:
        """A compact JSON-friendly form: only the non-empty buckets."""
        return {
            "count": self.count,
            "total": self.total,
            "min": self.min,
            "max": self.max,
            "buckets": {str(i): n for i, n in enumerate(self.counts) if n},
        }

    @classmethod
    def from_dict(cls, data: dict) -> Histogram:
        hist = cls()
        for index, n in data["buckets"].items():
            hist.counts[int(index)] = n
        hist.count = data["count"]
        hist.total = data["total"]
        hist.min = data["min"]
        hist.max = data["max"]
        return hist
