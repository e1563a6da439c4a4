"""The report and the claim checks, on made-up results with known answers."""

from loadtest.claims import evaluate
from loadtest.histogram import Histogram
from loadtest.markers import level_markers
from loadtest.report import headline_table, html_page, markdown, server_table


def level(
    connections: int,
    rps: float,
    mean: float,
    p99: float,
    error_rate: float = 0.0,
    held: int | None = None,
    steady: bool = True,
):
    hist = Histogram()
    for value in (mean * 0.5, mean, mean * 1.2, p99):
        hist.record(int(value * 1e6))
    held = connections if held is None else held
    data = {
        "connections": connections,
        "target": connections,
        "opened": held,
        "held": held,
        "reached": held >= connections,
        "steady": steady,
        "censored": False,
        "littles_law": {"in_flight": connections, "throughput_x_latency": 1.0, "off": 0.5},
        "generator": {"bound": False},
        "requests": int(rps * 10),
        "ok_rps": rps,
        "rps": rps,
        "latency_ms": {"mean": mean, "p99": p99},
        "errors": {"timeout": 5} if error_rate else {},
        "error_rate": error_rate,
        "connect_failures": {"before_window": connections - held, "in_window": 0},
        "histogram": hist.to_dict(),
        "server": {
            "cpu_ms_per_1000": 250.0,
            "cpu_percent": 98.0,
            "rss_mib": 200.0 + connections / 100,
            "idle_rss_mib": 200.0,
        },
    }
    data["markers"] = level_markers(data)
    return data


def results() -> dict:
    flask = [
        level(100, 3000, 30, 60),
        level(1000, 3100, 300, 900),
        level(10000, 900, 800, 4000, 0.2),
    ]
    fastapi = [level(100, 20000, 8, 20), level(1000, 26000, 40, 90), level(10000, 25000, 400, 800)]
    concerns = dict.fromkeys(
        ("validation", "serialization", "docs", "wiring", "errors", "handlers", "other"), 10
    )
    return {
        "profile": "quick",
        "started": "2026-01-02T03:04:05+0000",
        "elapsed_seconds": 100,
        "environment": {
            "cpu_model": "Test CPU",
            "cpus": 2,
            "placement": "server on CPU 0, generator on CPU 1",
            "python": "3.12",
            "event_loop": "uvloop",
            "server_workers": 2,
            "load_workers": 1,
            "duration_per_level": 2,
            "warmup": 1,
            "timeout": 5,
            "redis": "not used",
        },
        "frameworks": {
            "flask": {"scenarios": {"health": {"levels": flask}}},
            "fastapi": {"scenarios": {"health": {"levels": fastapi}}},
        },
        "loc": {
            "flask": {"concerns": {**concerns, "validation": 100}, "total": 400},
            "fastapi": {"concerns": {**concerns, "validation": 40}, "total": 300},
        },
        "notes": [],
    }


def test_claims_that_the_numbers_support():
    verdicts = {row["claim"]: row["verdict"] for row in evaluate(results())}
    assert verdicts == {
        "FastAPI 15,000-30,000 requests/s vs Flask 2,000-5,000": "supported",
        "average latency 5-15 ms (FastAPI) vs 20-50 ms (Flask)": "supported",
        "at 100 concurrent users both are stable": "supported",
        "at 1,000 Flask's workers saturate": "supported",
        "at 10,000 Flask needs scaling while FastAPI handles it": "supported",
        # (130 - 70) / 130 = 46% fewer lines over validation, serialization, docs, wiring
        "FastAPI cuts 30-50% of boilerplate": "supported",
    }


def test_claims_that_the_numbers_contradict():
    data = results()
    data["frameworks"]["fastapi"]["scenarios"]["health"]["levels"] = [
        level(100, 2500, 40, 90),
        level(1000, 2500, 400, 900),
        level(10000, 800, 900, 5000, 0.3),
    ]
    verdicts = [row["verdict"] for row in evaluate(data)]
    assert verdicts[:2] == ["not supported", "not supported"]
    assert verdicts[3] == "partly supported"  # both saturate
    assert verdicts[4] == "partly supported"  # both need scaling


def test_markdown_and_html_carry_the_tables_and_charts():
    data = results()
    table = headline_table(data)
    assert (
        "| health | 10,000 | 900 | 25,000 | 800.0 / 4000.0 | 400.0 / 800.0 | 20.00% | 0 |" in table
    )
    text = markdown(data)
    assert "## The claims" in text and "Lines of code per concern" in text
    page = html_page(data)
    assert page.count("<svg") == 3  # throughput, server CPU and latency by percentile
    assert page.count("<polyline") == 2 + 2 + 6  # a line per framework, a curve per level
    assert "http://" not in page.replace('xmlns="http://www.w3.org/2000/svg"', "")
    # 100 MiB over the idle 200 MiB, for 10,000 connections, at the top level only
    assert "| 300 (10 KiB per connection) |" in server_table(data)
    assert "| 210 |" in server_table(data)


def test_memory_per_connection_counts_every_connection_open_at_the_peak():
    data = results()
    for framework in ("flask", "fastapi"):
        top = data["frameworks"][framework]["scenarios"]["health"]["levels"][-1]
        top.update(held=7, peak_connections=10000)  # 100 MiB over idle, 10,000 open, 7 answered
    assert server_table(data).count("| 300 (10 KiB per connection) |") == 2


def test_a_level_that_did_not_hold_its_connections_is_evidence_about_the_server():
    data = results()
    flask = data["frameworks"]["flask"]["scenarios"]["health"]["levels"]
    flask[2] = level(10000, 1353, 700, 1900, held=4096)
    rows = {row["claim"]: row for row in evaluate(data)}
    at_10000 = rows["at 10,000 Flask needs scaling while FastAPI handles it"]
    assert at_10000["verdict"] == "supported"
    assert "Flask did not hold its connections" in at_10000["evidence"]
    assert "accepted at most 4,096 connections at once" in at_10000["evidence"]
    assert "1,353" not in at_10000["evidence"]  # no throughput "at 10,000" it never ran at
    assert "| 1,353 [reached 4,096 of 10,000] |" in headline_table(data)
    about = markdown(data).split("## About this run")[1].split("##")[0]
    assert "Flask health at 10,000 connections: reached 4,096 of 10,000" in about
    assert "5,904 connection attempts failed" in about
    assert "reached 4,096 of 10,000" in html_page(data)


def test_levels_that_were_not_steady_are_left_out_of_the_verdicts():
    data = results()
    fastapi = data["frameworks"]["fastapi"]["scenarios"]["health"]["levels"]
    fastapi[1] = level(1000, 90000, 40, 90, steady=False)  # a best level that is not steady
    rows = {row["claim"]: row for row in evaluate(data)}
    throughput = rows["FastAPI 15,000-30,000 requests/s vs Flask 2,000-5,000"]
    assert "90,000" not in throughput["evidence"]
    assert "FastAPI 25,000 vs Flask 3,100" in throughput["evidence"]
    assert "not steady" in headline_table(data)


def test_histogram_summary_feeds_the_report_shape():
    hist = Histogram()
    hist.record(1_500_000)
    assert set(hist.summary()) >= {"mean", "p50", "p90", "p99", "p99_9", "max"}


def test_verdicts_on_database_bound_routes_name_the_database():
    data = results()
    data["environment"]["database"] = "PostgreSQL on 127.0.0.1:5432 (a fresh database each)"
    for fw in ("flask", "fastapi"):
        scenarios = data["frameworks"][fw]["scenarios"]
        scenarios["item-read"] = {"levels": [dict(lv) for lv in scenarios["health"]["levels"]]}
    evidence = " ".join(row["evidence"] for row in evaluate(data))
    assert "item-read (on PostgreSQL on 127.0.0.1:5432)" in evidence
    assert "health (on" not in evidence
