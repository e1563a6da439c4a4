"""Plain-text tables for the terminal."""

from __future__ import annotations

from loadtest.markers import explain, markers_of


def format_errors(errors: dict[str, int]) -> str:
    if not errors:
        return "-"
    return ", ".join(f"{kind} {n:,}" for kind, n in sorted(errors.items(), key=lambda e: -e[1]))


def level_table(levels: list[dict], header: bool = True) -> str:
    """One line per level, then a line per marker saying what the level did not do."""
    columns = f"{'conns':>7} {'held':>7} {'req/s':>10} {'mean':>9} {'p50':>9} {'p90':>9} "
    columns += f"{'p99':>9} {'p99.9':>9} {'max':>9} {'gen cpu':>7}  errors"
    lines = [columns, "-" * len(columns)] if header else []
    for level in levels:
        if "skipped" in level:
            lines.append(f"{level['connections']:>7}  skipped: {level['skipped']}")
            continue
        lat = level["latency_ms"]
        generator = level.get("generator", {})
        lines.append(
            f"{level['connections']:>7} {level.get('held', 0):>7} {level['rps']:>10,.0f} "
            + " ".join(f"{lat[k]:>7.2f}ms" for k in ("mean", "p50", "p90", "p99", "p99_9", "max"))
            + f" {generator.get('cpu_percent', 0):>6.0f}%"
            + f"  {format_errors(level['errors'])}"
        )
        before = level.get("errors_before_window") or {}
        if before:
            lines.append(f"{'':>7}  before the window: {format_errors(before)}")
        if markers_of(level):
            lines.append(f"{'':>7}  [{'; '.join(markers_of(level))}]")
            lines += [f"{'':>7}  - {text}" for text in explain(level)]
    return "\n".join(lines)
