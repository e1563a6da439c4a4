"""The comparison report: Markdown tables, an offline HTML page with SVG charts."""

from __future__ import annotations

import html
import math
from pathlib import Path

from loadtest.claims import behaviour, evaluate, levels
from loadtest.loc import CONCERNS
from loadtest.textreport import format_errors

COLORS = {"flask": "#1f77b4", "fastapi": "#2ca02c"}
TITLES = {"flask": "Flask", "fastapi": "FastAPI"}


def frameworks(results: dict) -> list[str]:
    return list(results["frameworks"])


def scenario_names(results: dict) -> list[str]:
    names: list[str] = []
    for fw_result in results["frameworks"].values():
        for name in fw_result.get("scenarios", {}):
            if name not in names:
                names.append(name)
    return names


def all_levels(results: dict) -> list[int]:
    return sorted(
        {
            level["connections"]
            for fw in results["frameworks"].values()
            for outcome in fw.get("scenarios", {}).values()
            for level in outcome.get("levels", [])
        }
    )


def cell(level: dict | None, key: str) -> str:
    if level is None:
        return "-"
    if key == "rps":
        return f"{level['ok_rps']:,.0f}"
    if key == "latency":
        if not level["requests"]:
            return "no response"
        lat = level["latency_ms"]
        return f"{lat['mean']:.1f} / {lat['p99']:.1f}"
    if key == "errors":
        text = f"{level['error_rate']:.2%}" if level["error_rate"] else "0"
        if level["requests"] == 0 and level.get("unfinished"):
            text += f" (no response in the window; {level['unfinished']:,} waiting)"
        return text
    raise ValueError(key)


def headline_table(results: dict) -> str:
    fws = frameworks(results)
    header = ["scenario", "connections"]
    header += [f"{TITLES.get(fw, fw)} req/s" for fw in fws]
    header += [f"{TITLES.get(fw, fw)} mean / p99 ms" for fw in fws]
    header += [f"{TITLES.get(fw, fw)} errors" for fw in fws]
    rows = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for name in scenario_names(results):
        for conns in all_levels(results):
            per_fw = {fw: levels(results, fw, name).get(conns) for fw in fws}
            if not any(per_fw.values()):
                continue
            cells = [name, f"{conns:,}"]
            for key in ("rps", "latency", "errors"):
                cells += [cell(per_fw[fw], key) for fw in fws]
            rows.append("| " + " | ".join(cells) + " |")
    return "\n".join(rows)


def behaviour_table(results: dict) -> str:
    fws = frameworks(results)
    conns_list = all_levels(results)
    header = ["scenario", "framework"] + [f"{c:,} connections" for c in conns_list]
    rows = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for name in scenario_names(results):
        for fw in fws:
            by_conns = levels(results, fw, name)
            if not by_conns:
                continue
            cells = [name, TITLES.get(fw, fw)]
            for conns in conns_list:
                level = by_conns.get(conns)
                text = behaviour(level)
                if level is not None and level["errors"]:
                    text += f" ({format_errors(level['errors'])})"
                cells.append(text)
            rows.append("| " + " | ".join(cells) + " |")
    return "\n".join(rows)


def claims_table(results: dict) -> str:
    rows = ["| claim | this run | measured |", "|---|---|---|"]
    for row in evaluate(results):
        rows.append(f"| {row['claim']} | **{row['verdict']}** | {row['evidence']} |")
    return "\n".join(rows)


def loc_table(results: dict) -> str:
    loc = results.get("loc", {})
    fws = [fw for fw in frameworks(results) if fw in loc]
    if not fws:
        return "_not measured_"
    rows = ["| concern | " + " | ".join(TITLES.get(fw, fw) for fw in fws) + " |"]
    rows.append("|---|" + "---|" * len(fws))
    for concern in CONCERNS:
        rows.append(
            f"| {concern} | " + " | ".join(str(loc[fw]["concerns"][concern]) for fw in fws) + " |"
        )
    rows.append("| **total** | " + " | ".join(f"**{loc[fw]['total']}**" for fw in fws) + " |")
    return "\n".join(rows)


def unavailable_notes(results: dict) -> list[str]:
    notes = list(results.get("notes", []))
    for fw, fw_result in results["frameworks"].items():
        if "error" in fw_result:
            notes.append(f"{TITLES.get(fw, fw)}: {fw_result['error'].splitlines()[0]}")
        for name, outcome in fw_result.get("scenarios", {}).items():
            if "unavailable" in outcome:
                notes.append(f"{TITLES.get(fw, fw)} {name}: {outcome['unavailable'][:200]}")
    return notes


def environment_lines(results: dict) -> list[str]:
    env = results["environment"]
    return [
        f"- CPU: {env['cpu_model']} ({env['cpus']} cores); {env['placement']}",
        f"- servers: gunicorn, {env['server_workers']} workers each (Flask gthread, "
        "FastAPI uvicorn), SQLite, log level WARNING; "
        f"Redis: {env['redis']}",
        f"- generator: Python {env['python']}, {env['event_loop']}, "
        f"{env['load_workers']} process(es), closed loop, {env['duration_per_level']:g} s "
        f"measured per level after {env.get('warmup', 0):g} s of warm-up, "
        f"{env['timeout']:g} s timeout",
        f"- profile `{results['profile']}`, {results.get('elapsed_seconds', 0):.0f} s in all",
    ]


def markdown(results: dict) -> str:
    parts = [
        "# Flask vs FastAPI: load test report",
        "",
        f"Run {results['started']}.",
        "",
        *environment_lines(results),
        "",
        "## Requests/s, latency and errors",
        "",
        "Successful requests per second; latency mean / p99 in milliseconds.",
        "",
        headline_table(results),
        "",
        "## Behaviour by concurrency",
        "",
        "stable: under 1% errors and p99 under 1 s; slow: p99 of 1 s or more; "
        "failing: 1% errors or more.",
        "",
        behaviour_table(results),
        "",
        "## The claims",
        "",
        claims_table(results),
        "",
        "## Lines of code per concern",
        "",
        "Code lines (no blanks, comments or docstrings) of each generated package; the files "
        "that are identical in both (the ML model) are left out.",
        "",
        loc_table(results),
        "",
    ]
    notes = unavailable_notes(results)
    if notes:
        parts += ["## Notes", "", *[f"- {note}" for note in notes], ""]
    return "\n".join(parts)


# --- HTML ------------------------------------------------------------------------------


def svg_chart(
    title: str, x_values: list[int], series: dict[str, list[float | None]], y_label: str
) -> str:
    """A line chart: x categorical (connections), y linear from zero."""
    width, height = 420, 260
    left, right, top, bottom = 64, 16, 32, 44
    plot_w, plot_h = width - left - right, height - top - bottom
    values = [v for points in series.values() for v in points if v is not None]
    y_max = max(values) if values else 1.0
    y_max = nice_ceiling(y_max)
    n = len(x_values)

    def x_at(i: int) -> float:
        return left + (plot_w * (i + 0.5) / n)

    def y_at(v: float) -> float:
        return top + plot_h - plot_h * (v / y_max if y_max else 0)

    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" '
        f'width="{width}" height="{height}" role="img" aria-label="{html.escape(title)}">',
        f'<text x="{width / 2}" y="18" text-anchor="middle" class="title">'
        f"{html.escape(title)}</text>",
        f'<line x1="{left}" y1="{top + plot_h}" x2="{left + plot_w}" y2="{top + plot_h}" '
        'class="axis"/>',
        f'<line x1="{left}" y1="{top}" x2="{left}" y2="{top + plot_h}" class="axis"/>',
    ]
    for tick in range(5):
        v = y_max * tick / 4
        y = y_at(v)
        out.append(
            f'<line x1="{left}" y1="{y:.1f}" x2="{left + plot_w}" y2="{y:.1f}" class="grid"/>'
        )
        out.append(f'<text x="{left - 6}" y="{y + 4:.1f}" text-anchor="end">{short(v)}</text>')
    for i, x in enumerate(x_values):
        out.append(
            f'<text x="{x_at(i):.1f}" y="{top + plot_h + 16}" text-anchor="middle">{x:,}</text>'
        )
    out.append(
        f'<text x="{left + plot_w / 2}" y="{height - 6}" text-anchor="middle">connections</text>'
    )
    out.append(
        f'<text x="14" y="{top + plot_h / 2}" text-anchor="middle" '
        f'transform="rotate(-90 14 {top + plot_h / 2})">{html.escape(y_label)}</text>'
    )
    for legend_index, (name, points) in enumerate(series.items()):
        color = COLORS.get(name, "#d62728")
        coords = [(x_at(i), y_at(v)) for i, v in enumerate(points) if v is not None]
        if len(coords) > 1:
            path = " ".join(f"{x:.1f},{y:.1f}" for x, y in coords)
            out.append(f'<polyline points="{path}" fill="none" stroke="{color}" stroke-width="2"/>')
        for x, y in coords:
            out.append(f'<circle cx="{x:.1f}" cy="{y:.1f}" r="3.5" fill="{color}"/>')
        lx = left + 8 + legend_index * 90
        out.append(f'<rect x="{lx}" y="{top + 2}" width="10" height="10" fill="{color}"/>')
        out.append(f'<text x="{lx + 14}" y="{top + 11}">{TITLES.get(name, name)}</text>')
    out.append("</svg>")
    return "\n".join(out)


def nice_ceiling(value: float) -> float:
    if value <= 0:
        return 1.0
    magnitude = 10 ** math.floor(math.log10(value))
    for step in (1, 2, 2.5, 5, 10):
        if value <= step * magnitude:
            return step * magnitude
    return 10 * magnitude


def short(value: float) -> str:
    if value >= 1000:
        return f"{value / 1000:g}k"
    return f"{value:g}"


def markdown_table_to_html(table: str) -> str:
    lines = [line for line in table.splitlines() if line.startswith("|")]
    if len(lines) < 2:
        return f"<p>{html.escape(table)}</p>"
    rows = [[c.strip() for c in line.strip("|").split("|")] for line in lines]
    head = "".join(f"<th>{html.escape(c)}</th>" for c in rows[0])
    body = "".join(
        "<tr>" + "".join(f"<td>{bold(html.escape(c))}</td>" for c in row) + "</tr>"
        for row in rows[2:]
    )
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def bold(text: str) -> str:
    if text.startswith("**") and text.endswith("**"):
        return f"<strong>{text[2:-2]}</strong>"
    return text


STYLE = """
body{font-family:system-ui,-apple-system,"Segoe UI",sans-serif;margin:2rem auto;max-width:1200px;
color:#222;padding:0 1rem}
table{border-collapse:collapse;margin:1rem 0;font-size:.9rem}
th,td{border:1px solid #ccc;padding:.3rem .6rem;text-align:left;vertical-align:top}
th{background:#f3f3f3}
.charts{display:flex;flex-wrap:wrap;gap:1rem}
svg{background:#fff;border:1px solid #ddd}
svg text{font-size:11px;fill:#333}
svg .title{font-size:13px;font-weight:600}
svg .axis{stroke:#333}
svg .grid{stroke:#eee}
"""


def html_page(results: dict) -> str:
    fws = frameworks(results)
    conns_list = all_levels(results)
    sections = []
    for name in scenario_names(results):
        throughput = {}
        p99 = {}
        mean = {}
        for fw in fws:
            by_conns = levels(results, fw, name)
            answered = [
                by_conns.get(c) if by_conns.get(c, {}).get("requests") else None for c in conns_list
            ]
            throughput[fw] = [by_conns[c]["ok_rps"] if c in by_conns else None for c in conns_list]
            p99[fw] = [lvl["latency_ms"]["p99"] if lvl else None for lvl in answered]
            mean[fw] = [lvl["latency_ms"]["mean"] if lvl else None for lvl in answered]
        if not any(v is not None for points in throughput.values() for v in points):
            continue
        charts = [
            svg_chart(f"{name}: throughput", conns_list, throughput, "successful req/s"),
            svg_chart(f"{name}: mean latency", conns_list, mean, "ms"),
            svg_chart(f"{name}: p99 latency", conns_list, p99, "ms"),
        ]
        sections.append(f"<h3>{html.escape(name)}</h3><div class='charts'>{''.join(charts)}</div>")
    env = "".join(f"<li>{html.escape(line[2:])}</li>" for line in environment_lines(results))
    notes = unavailable_notes(results)
    notes_html = (
        "<h2>Notes</h2><ul>" + "".join(f"<li>{html.escape(n)}</li>" for n in notes) + "</ul>"
        if notes
        else ""
    )
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<title>Flask vs FastAPI: load test report</title>
<style>{STYLE}</style></head>
<body>
<h1>Flask vs FastAPI: load test report</h1>
<p>Run {html.escape(results["started"])}.</p>
<ul>{env}</ul>
<h2>The claims</h2>
{markdown_table_to_html(claims_table(results))}
<h2>Throughput and latency against concurrency</h2>
{"".join(sections)}
<h2>Requests/s, latency and errors</h2>
<p>Successful requests per second; latency mean / p99 in milliseconds.</p>
{markdown_table_to_html(headline_table(results))}
<h2>Behaviour by concurrency</h2>
{markdown_table_to_html(behaviour_table(results))}
<h2>Lines of code per concern</h2>
{markdown_table_to_html(loc_table(results))}
{notes_html}
</body></html>
"""


def write_reports(results: dict, out: Path) -> str:
    """Write report.md and report.html next to results.json; returns the headline table."""
    (out / "report.md").write_text(markdown(results))
    (out / "report.html").write_text(html_page(results))
    return headline_table(results)
