"""What a level did not do, said the same way in every output: the live line, the tables,
the charts, results.json and the claims."""

from __future__ import annotations

NOT_STEADY = "not steady"
CENSORED = "censored"
GENERATOR_BOUND = "generator-bound: a lower bound"


def reached_text(level: dict) -> str:
    return f"reached {level['held']:,} of {level['target']:,}"


def level_markers(level: dict) -> list[str]:
    """Short markers, in a fixed order; an empty list for a level measured as asked."""
    if "skipped" in level:
        return ["skipped"]
    markers = []
    if not level.get("reached", True):
        markers.append(reached_text(level))
    if level.get("steady") is False:
        markers.append(NOT_STEADY)
    if level.get("censored"):
        markers.append(CENSORED)
    if level.get("generator", {}).get("bound"):
        markers.append(GENERATOR_BOUND)
    return markers


def markers_of(level: dict | None) -> list[str]:
    if level is None:
        return []
    return level.get("markers", level_markers(level))


def explain(level: dict) -> list[str]:
    """A sentence per marker, with the figures behind it."""
    if "skipped" in level:
        return [f"skipped: {level['skipped']}"]
    lines = []
    failures = level.get("connect_failures", {})
    failed = failures.get("before_window", 0) + failures.get("in_window", 0)
    if not level.get("reached", True):
        lines.append(
            f"{reached_text(level)} connections: at most {level['opened']:,} were open at once, "
            f"{level['held']:,} were held and answered throughout the window; "
            f"{failed:,} connection attempts failed"
        )
    if level.get("steady") is False:
        law = level["littles_law"]
        lines.append(
            f"not steady: {law['in_flight']:,.0f} requests in flight on average, but "
            f"throughput x mean latency = {law['throughput_x_latency']:,.0f} "
            f"({law['off']:.0%} off Little's law)"
        )
    if level.get("censored"):
        age = level["unfinished_age_ms"]
        lines.append(
            f"censored: {level['unfinished']:,} requests were still in flight when the "
            f"{level['window']['seconds']:g} s window closed, the oldest for {age['max']:,.0f} ms; "
            f"counted at their age so far, the mean would be at least "
            f"{level['latency_with_unfinished_ms']['mean']:,.1f} ms and the p99 "
            f"{level['latency_with_unfinished_ms']['p99']:,.1f} ms"
        )
    if level.get("generator", {}).get("bound"):
        gen = level["generator"]
        lines.append(
            f"generator-bound: the load generator was busy {gen['busy_percent']:.0f}% of its "
            f"{gen['cores']} core(s) (CPU {gen['cpu_percent']:.0f}%), so the figures are a lower "
            "bound of what the server can do"
        )
    return lines
