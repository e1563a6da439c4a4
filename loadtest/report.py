"""The comparison report: Markdown tables, an offline HTML page with SVG charts."""

from __future__ import annotations

import html
from pathlib import Path

from loadtest.charts import distribution_chart, line_chart
from loadtest.claims import behaviour, evaluate, levels
from loadtest.histogram import Histogram
from loadtest.loc import CONCERNS
from loadtest.markers import explain, markers_of
from loadtest.textreport import format_errors

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
        marks = markers_of(level)
        return f"{level['ok_rps']:,.0f}" + (f" [{'; '.join(marks)}]" if marks else "")
    if key == "cpu":
        per_1000 = level.get("server", {}).get("cpu_ms_per_1000")
        return "-" if per_1000 is None else f"{per_1000:,.0f}"
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
    header += [f"{TITLES.get(fw, fw)} server CPU ms / 1,000 req" for fw in fws]
    rows = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for name in scenario_names(results):
        for conns in all_levels(results):
            per_fw = {fw: levels(results, fw, name).get(conns) for fw in fws}
            if not any(per_fw.values()):
                continue
            cells = [name, f"{conns:,}"]
            for key in ("rps", "latency", "errors", "cpu"):
                cells += [cell(per_fw[fw], key) for fw in fws]
            rows.append("| " + " | ".join(cells) + " |")
    return "\n".join(rows)


def server_table(results: dict) -> str:
    """What each request cost the server: CPU time and memory, from /proc."""
    fws = frameworks(results)
    header = ["scenario", "connections"]
    for fw in fws:
        title = TITLES.get(fw, fw)
        header += [f"{title} CPU ms / 1,000 req", f"{title} CPU %", f"{title} RSS MiB"]
    rows = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for name in scenario_names(results):
        conns_list = all_levels(results)
        for conns in conns_list:
            per_fw = {fw: levels(results, fw, name).get(conns) for fw in fws}
            if not any(lv and "server" in lv for lv in per_fw.values()):
                continue
            cells = [name, f"{conns:,}"]
            for fw in fws:
                server = (per_fw[fw] or {}).get("server")
                if not server:
                    cells += ["-", "-", "-"]
                    continue
                per_1000 = server["cpu_ms_per_1000"]
                rss = f"{server['rss_mib']:,.0f}"
                per_conn = rss_per_connection(per_fw[fw], levels(results, fw, name))
                if per_conn is not None:
                    rss += f" ({per_conn:,.0f} KiB per connection)"
                cells += [
                    "-" if per_1000 is None else f"{per_1000:,.1f}",
                    f"{server['cpu_percent']:,.0f}",
                    rss,
                ]
            rows.append("| " + " | ".join(cells) + " |")
    return "\n".join(rows)


def rss_per_connection(level: dict, by_conns: dict[int, dict]) -> float | None:
    """At the scenario's top level: the memory above idle, per connection open at the peak.

    The server holds memory for every open connection, answered or not: divided by the
    connections held through the window, a level that held 7 of 1,000 showed 22 MiB each.
    """
    if not by_conns or level["connections"] != max(by_conns) or "server" not in level:
        return None
    open_at_peak = level.get("peak_connections") or level.get("held") or level["connections"]
    extra = level["server"]["rss_mib"] - level["server"]["idle_rss_mib"]
    return max(0.0, extra) * 1024 / open_at_peak if open_at_peak else None


def about_run(results: dict) -> list[str]:
    """Everything marked, level by level, with the figures behind each marker."""
    lines = []
    for fw in frameworks(results):
        for name in scenario_names(results):
            for conns, level in sorted(levels(results, fw, name, skipped=True).items()):
                for text in explain(level):
                    lines.append(f"{TITLES.get(fw, fw)} {name} at {conns:,} connections: {text}")
    return lines


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
    servers = {
        fw: fw_result.get("server", "gunicorn") for fw, fw_result in results["frameworks"].items()
    }
    others = [f"{TITLES.get(fw, fw)} on {server}" for fw, server in servers.items()]
    others = [text for text in others if not text.endswith(" on gunicorn")]
    window = f"a window of {env['duration_per_level']:g} s"
    if env.get("max_duration_per_level", 0) > env["duration_per_level"]:
        window += f" adapting up to {env['max_duration_per_level']:g} s"
    return [
        f"- CPU: {env['cpu_model']} ({env['cpus']} cores); {env['placement']}",
        f"- servers: gunicorn, {env['server_workers']} workers each (Flask gthread, "
        f"FastAPI uvicorn){'; ' + ', '.join(others) if others else ''}; "
        f"database: {env.get('database', 'SQLite')}; log level WARNING; Redis: {env['redis']}",
        f"- generator: Python {env['python']}, {env['event_loop']}, "
        f"{env['load_workers']} process(es), closed loop, {window} per level after "
        f"{env.get('warmup', 0):g} s of warm-up, {env['timeout']:g} s timeout",
        f"- profile `{results['profile']}`, {results.get('elapsed_seconds', 0):.0f} s in all",
    ]


HEADLINE_NOTE = (
    "Successful requests per second; latency mean / p99 in milliseconds; the server's CPU "
    "time per 1,000 requests. Markers in brackets say what a level did not do: "
    "*reached N of M* (only N of the M connections were held and answered throughout the "
    "window), *not steady* (Little's law off by more than 10%), *censored* (requests still in "
    "flight at the window's end would change the latencies), *generator-bound* (the load "
    "generator used over 90% of its cores: the figures are a lower bound)."
)
SERVER_NOTE = (
    "From /proc, over each measured window: the server processes' CPU time per 1,000 "
    "requests (the figure that holds on a shared machine), their CPU use (100% is one core) "
    "and resident memory; at each scenario's top level, the memory above idle per connection "
    "open at the peak (answered or not)."
)
BEHAVIOUR_NOTE = (
    "stable: under 1% errors and p99 under 1 s; slow: p99 of 1 s or more; failing: 1% errors "
    "or more; not steady: see the markers; did not hold its connections: the server turned "
    "some away."
)


def about_lines(results: dict) -> list[str]:
    lines = about_run(results) + unavailable_notes(results)
    return [f"- {line}" for line in lines] or [
        "- every level held its connections, was steady, uncensored and not generator-bound"
    ]


def markdown(results: dict) -> str:
    parts = [
        "# Flask vs FastAPI: load test report",
        "",
        f"Run {results['started']}.",
        "",
        *environment_lines(results),
        "",
        "## About this run",
        "",
        *about_lines(results),
        "",
        "## Requests/s, latency and errors",
        "",
        HEADLINE_NOTE,
        "",
        headline_table(results),
        "",
        "## What each request cost the server",
        "",
        SERVER_NOTE,
        "",
        server_table(results),
        "",
        "## Behaviour by concurrency",
        "",
        BEHAVIOUR_NOTE,
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
    return "\n".join(parts)


# --- HTML ------------------------------------------------------------------------------


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


def scenario_charts(results: dict, name: str) -> str:
    fws = frameworks(results)
    conns_list = all_levels(results)
    throughput, cpu, marked, curves = {}, {}, {}, []
    for fw in fws:
        by_conns = levels(results, fw, name)
        title = TITLES.get(fw, fw)
        throughput[title] = [by_conns[c]["ok_rps"] if c in by_conns else None for c in conns_list]
        cpu[title] = [
            by_conns[c].get("server", {}).get("cpu_ms_per_1000") if c in by_conns else None
            for c in conns_list
        ]
        marked[title] = [bool(markers_of(by_conns.get(c))) for c in conns_list]
        for conns, level in sorted(by_conns.items()):
            if level.get("histogram", {}).get("count"):
                label = f"{title} {conns:,}" + (" *" if markers_of(level) else "")
                curves.append((title, conns_list.index(conns), label, level["histogram"]))
    if not any(v is not None for points in throughput.values() for v in points):
        return ""
    charts = [line_chart(f"{name}: throughput", conns_list, throughput, "successful req/s", marked)]
    if any(v is not None for points in cpu.values() for v in points):
        charts.append(
            line_chart(f"{name}: server CPU", conns_list, cpu, "CPU ms per 1,000 req", marked)
        )
    if curves:
        charts.append(
            distribution_chart(
                f"{name}: latency by percentile",
                [(t, i, label, Histogram.from_dict(h)) for t, i, label, h in curves],
            )
        )
    return f"<h3>{html.escape(name)}</h3><div class='charts'>{''.join(charts)}</div>"


def html_page(results: dict) -> str:
    sections = "".join(scenario_charts(results, name) for name in scenario_names(results))
    env = "".join(f"<li>{html.escape(line[2:])}</li>" for line in environment_lines(results))
    about = "".join(f"<li>{html.escape(line[2:])}</li>" for line in about_lines(results))
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<title>Flask vs FastAPI: load test report</title>
<style>{STYLE}</style></head>
<body>
<h1>Flask vs FastAPI: load test report</h1>
<p>Run {html.escape(results["started"])}.</p>
<ul>{env}</ul>
<h2>About this run</h2>
<ul>{about}</ul>
<h2>The claims</h2>
{markdown_table_to_html(claims_table(results))}
<h2>Throughput, server CPU and latency</h2>
<p>Hollow points and curves marked * are levels with markers (see About this run). The latency
curves plot each percentile on a log scale, as HdrHistogram does: the further right, the rarer
the request.</p>
{sections}
<h2>Requests/s, latency and errors</h2>
<p>{html.escape(HEADLINE_NOTE.replace("*", ""))}</p>
{markdown_table_to_html(headline_table(results))}
<h2>What each request cost the server</h2>
<p>{html.escape(SERVER_NOTE)}</p>
{markdown_table_to_html(server_table(results))}
<h2>Behaviour by concurrency</h2>
{markdown_table_to_html(behaviour_table(results))}
<h2>Lines of code per concern</h2>
{markdown_table_to_html(loc_table(results))}
</body></html>
"""


def write_reports(results: dict, out: Path) -> str:
    """Write report.md and report.html next to results.json; returns the headline table."""
    (out / "report.md").write_text(markdown(results))
    (out / "report.html").write_text(html_page(results))
    return headline_table(results)
