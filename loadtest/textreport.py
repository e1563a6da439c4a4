"""Plain-text tables for the terminal."""

from __future__ import annotations


def format_errors(errors: dict[str, int]) -> str:
    if not errors:
        return "-"
    return ", ".join(f"{kind} {n:,}" for kind, n in sorted(errors.items(), key=lambda e: -e[1]))


def level_table(levels: list[dict], header: bool = True) -> str:
    columns = f"{'conns':>7} {'req/s':>10} {'mean':>9} {'p50':>9} {'p90':>9} {'p99':>9} "
    columns += f"{'p99.9':>9} {'max':>9}  errors"
    lines = [columns, "-" * len(columns)] if header else []
    for level in levels:
        if "skipped" in level:
            lines.append(f"{level['connections']:>7}  skipped: {level['skipped']}")
            continue
        lat = level["latency_ms"]
        lines.append(
            f"{level['connections']:>7} {level['rps']:>10,.0f} "
            + " ".join(f"{lat[k]:>7.2f}ms" for k in ("mean", "p50", "p90", "p99", "p99_9", "max"))
            + f"  {format_errors(level['errors'])}"
        )
    return "\n".join(lines)
