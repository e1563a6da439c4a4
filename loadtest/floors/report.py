"""The floors table, in Markdown: what each template costs over its framework."""

from __future__ import annotations

import platform
from pathlib import Path

from loadtest.engine import event_loop_name
from loadtest.limits import cpu_count


def machine_facts(placement: str) -> dict:
    cpu_model = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu_model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {
        "cpu_model": cpu_model or platform.processor(),
        "cpus": cpu_count(),
        "placement": placement,
        "python": platform.python_version(),
        "platform": platform.platform(),
        "event_loop": event_loop_name(),
    }


def verdict(comparison: dict) -> str:
    if comparison["errors"]:
        return f"no: {comparison['errors']} errors"
    return "yes" if comparison["met"] else "**no**"


def floors_table(comparisons: list[dict]) -> list[str]:
    lines = [
        "| framework | database | scenario | template req/s | floor req/s | template/floor "
        "| target | met | template / floor p99 ms |",
        "|---|---|---|---:|---:|---:|---:|---|---:|",
    ]
    for c in comparisons:
        lines.append(
            f"| {c['framework']} | {c['database']} | {c['scenario']} | {c['template_rps']:,.0f} "
            f"| {c['floor_rps']:,.0f} | {c['ratio']:.2f} | {c['target']:.1f} | {verdict(c)} "
            f"| {c['template_p99_ms']:.1f} / {c['floor_p99_ms']:.1f} |"
        )
    return lines


def floors_markdown(results: dict) -> str:
    env = results["environment"]
    comparisons = results["comparisons"]
    missed = [c for c in comparisons if not c["met"]]
    lines = [
        "## Templates against their floors",
        "",
        f"{env['cpu_model']}, {env['cpus']} CPUs, Python {env['python']}, {env['placement']}; "
        f"{results['connections']} connections, {results['rounds']} rounds of "
        f"{results['duration']:g} s per side (after {results['warmup']:g} s warm-up), "
        "alternating template and floor, after one uncounted round per server; Redis in "
        "front of the cached read only.",
        "",
        *floors_table(comparisons),
        "",
    ]
    if missed:
        names = ", ".join(f"{c['framework']} {c['database']} {c['scenario']}" for c in missed)
        lines.append(f"Missed: {names}.")
    else:
        lines.append("Every target met.")
    busy = [
        r["generator_cpu"] for c in comparisons for r in c["rounds"] if r["generator_cpu"] > 0.9
    ]
    if busy:
        lines.append(
            f"Warning: the generator used over 90% of its CPU in {len(busy)} rounds; "
            "there it, not the server, may have been the limit."
        )
    return "\n".join(lines) + "\n"
