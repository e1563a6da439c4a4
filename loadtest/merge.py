"""`python -m loadtest merge A.json B.json ...`: one result from runs made at the same time.

When one generator machine cannot load the target enough, several run the same scenario
against it at once, each writing `run --json`. Merging adds their histograms bucket by
bucket (so the percentiles are exact, not averages of percentiles), sums the requests,
rates and connections (targets, opened, held) and keeps every error and marker.
"""

from __future__ import annotations

import json
from pathlib import Path

from loadtest.engine import LITTLE_TOLERANCE, censored
from loadtest.histogram import Histogram
from loadtest.markers import level_markers
from loadtest.result import add_counts
from loadtest.textreport import level_table

SUMMED = (
    "connections",
    "target",
    "opened",
    "open_at_start",
    "held",
    "connects",
    "requests",
    "sent",
    "ok",
    "rps",
    "ok_rps",
    "unfinished",
    "peak_connections",
    "connections_opened",
)
COUNTED = ("statuses", "errors", "error_details", "errors_before_window")


class MergeError(ValueError):
    """The runs cannot be combined."""


def merge_levels(levels: list[dict]) -> dict:
    if any("skipped" in level for level in levels):
        return next(level for level in levels if "skipped" in level)
    merged = {key: value for key, value in levels[0].items() if not isinstance(value, dict)}
    for key in SUMMED:
        merged[key] = sum(level.get(key, 0) for level in levels)
    for key in COUNTED:
        merged[key] = {}
        for level in levels:
            add_counts(merged[key], level.get(key, {}))
    merged["connect_failures"] = {}
    for level in levels:
        add_counts(merged["connect_failures"], level.get("connect_failures", {}))
    merged["machines"] = len(levels)
    merged["reached"] = merged["held"] >= merged["target"]
    merged["duration"] = max(level["duration"] for level in levels)
    merged["window"] = dict(levels[0].get("window", {}))
    merged["window"]["seconds"] = merged["duration"]
    merged["window"]["limit_hit"] = any(lv.get("window", {}).get("limit_hit") for lv in levels)
    latency, unfinished = Histogram(), Histogram()
    for level in levels:
        latency.merge(Histogram.from_dict(level["histogram"]))
        unfinished.merge(Histogram.from_dict(level.get("unfinished_histogram", empty())))
    both = Histogram()
    both.merge(latency)
    both.merge(unfinished)
    merged["histogram"] = latency.to_dict()
    merged["unfinished_histogram"] = unfinished.to_dict()
    merged["latency_ms"] = latency.summary()
    merged["unfinished_age_ms"] = unfinished.summary()
    merged["latency_with_unfinished_ms"] = both.summary()
    merged["censored"] = censored(latency, unfinished)
    attempts = merged["requests"] + sum(
        n for kind, n in merged["errors"].items() if not kind.startswith("status")
    )
    merged["error_rate"] = round(sum(merged["errors"].values()) / attempts, 5) if attempts else 0.0
    merged["littles_law"], merged["steady"] = merged_little(levels, merged["rps"], latency)
    merged["generator"] = {
        "machines": len(levels),
        "bound": any(level.get("generator", {}).get("bound") for level in levels),
        "busy_percent": max(level.get("generator", {}).get("busy_percent", 0) for level in levels),
        "cpu_percent": max(level.get("generator", {}).get("cpu_percent", 0) for level in levels),
        "cores": sum(level.get("generator", {}).get("cores", 1) for level in levels),
    }
    merged["markers"] = level_markers(merged)
    return merged


def merged_little(levels: list[dict], rps: float, latency: Histogram) -> tuple[dict, bool | None]:
    laws = [level.get("littles_law", {}) for level in levels]
    if any(law.get("off") is None for law in laws):
        return {"in_flight": None, "throughput_x_latency": None, "off": None}, None
    in_flight = sum(law["in_flight"] for law in laws)
    product = rps * latency.mean / 1e9
    off = abs(in_flight - product) / in_flight if in_flight else None
    law = {
        "in_flight": round(in_flight, 1),
        "throughput_x_latency": round(product, 1),
        "off": None if off is None else round(off, 4),
    }
    return law, None if off is None else off <= LITTLE_TOLERANCE


def empty() -> dict:
    return Histogram().to_dict()


def merge_runs(runs: list[dict]) -> dict:
    """Runs of one scenario, level by level (the levels must match)."""
    scenarios = {run.get("scenario") for run in runs}
    if len(scenarios) != 1:
        raise MergeError(f"the runs are of different scenarios: {sorted(map(str, scenarios))}")
    shapes = {tuple(level["connections"] for level in run["levels"]) for run in runs}
    if len(shapes) != 1:
        raise MergeError("the runs have different levels; run the same --connections on each")
    merged = {key: value for key, value in runs[0].items() if key != "levels"}
    merged["merged_from"] = [run.get("url", "?") for run in runs]
    merged["levels"] = [
        merge_levels(list(levels)) for levels in zip(*(r["levels"] for r in runs), strict=True)
    ]
    return merged


def merge_files(paths: list[Path]) -> dict:
    return merge_runs([json.loads(path.read_text()) for path in paths])


def describe(merged: dict) -> str:
    return f"{merged['scenario']}, {len(merged['merged_from'])} runs merged\n" + level_table(
        merged["levels"]
    )
