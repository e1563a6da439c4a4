import random

import pytest

from loadtest import histogram
from loadtest.histogram import Histogram, bucket_bounds, bucket_index


def test_every_value_falls_within_its_bucket_bounds():
    for value in [0, 1, 2047, 2048, 2049, 4095, 4096, 10**6, 123_456_789, 2**41 + 12345]:
        low, high = bucket_bounds(bucket_index(value))
        assert low <= value <= high
        assert high - low <= max(1, value // 1024)  # three significant digits


def test_bucket_indexes_are_contiguous_and_ordered():
    previous_high = -1
    for index in range(0, 6000):
        low, high = bucket_bounds(index)
        assert low == previous_high + 1
        previous_high = high


def test_percentiles_of_a_uniform_sequence():
    hist = Histogram()
    for value in range(1, 10001):
        hist.record(value * 1000)  # 1 us .. 10 ms in ns
    assert hist.count == 10000
    assert hist.min == 1000 and hist.max == 10_000_000
    assert hist.mean == 5_000_500
    for pct, exact in [(50, 5_000_000), (90, 9_000_000), (99, 9_900_000), (99.9, 9_990_000)]:
        assert abs(hist.percentile(pct) - exact) <= exact / 1000
    assert hist.percentile(100) == 10_000_000
    summary = hist.summary()
    assert summary["p50"] == pytest.approx(5.0, rel=1e-3)
    assert summary["max"] == 10.0


def test_small_exact_values():
    hist = Histogram()
    for value in [5, 5, 5, 7]:
        hist.record(value)
    assert hist.percentile(50) == 5
    assert hist.percentile(75) == 5
    assert hist.percentile(76) == 7


def test_merge_equals_recording_everything_in_one():
    rng = random.Random(7)
    values = [int(rng.lognormvariate(13, 1)) for _ in range(5000)]
    whole, first, second = Histogram(), Histogram(), Histogram()
    for n, value in enumerate(values):
        whole.record(value)
        (first if n % 2 else second).record(value)
    first.merge(second)
    assert first.counts == whole.counts
    assert (first.count, first.total, first.min, first.max) == (
        whole.count,
        whole.total,
        whole.min,
        whole.max,
    )


def test_round_trip_through_a_dict():
    hist = Histogram()
    for value in (10, 2000, 3_000_000):
        hist.record(value)
    copy = Histogram.from_dict(hist.to_dict())
    assert copy.counts == hist.counts
    assert copy.summary() == hist.summary()


def test_empty_histogram_reports_zeros():
    assert Histogram().summary()["p99"] == 0


def test_many_percentiles_in_one_pass_match_one_at_a_time():
    rng = random.Random(3)
    hist = Histogram()
    for _ in range(3000):
        hist.record(int(rng.lognormvariate(12, 1.5)))
    pcts = [0, 10, 50, 90, 99, 99.9, 99.99, 100]
    assert hist.percentiles(pcts) == [hist.percentile(p) for p in pcts]


@pytest.mark.parametrize("fast_fold", [True, False], ids=["numpy", "pure-python"])
def test_recording_many_at_once_equals_recording_one_by_one(monkeypatch, fast_fold):
    monkeypatch.setattr(histogram, "FAST_FOLD", fast_fold)
    rng = random.Random(5)
    values = [int(rng.lognormvariate(14, 2)) for _ in range(5000)] + [0, 1, 2**50]
    one, many = Histogram(), Histogram()
    for value in values:
        one.record(value)
    many.record_many(values[:100])
    many.record_many(values[100:])
    assert many.counts == one.counts
    assert (many.count, many.min, many.max, many.total) == (one.count, one.min, one.max, one.total)
