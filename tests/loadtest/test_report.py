"""The report and the claim checks, on made-up results with known answers."""

from loadtest.claims import evaluate
from loadtest.histogram import Histogram
from loadtest.report import headline_table, html_page, markdown


def level(connections: int, rps: float, mean: float, p99: float, error_rate: float = 0.0):
    return {
        "connections": connections,
        "requests": int(rps * 10),
        "ok_rps": rps,
        "rps": rps,
        "latency_ms": {"mean": mean, "p99": p99},
        "errors": {"timeout": 5} if error_rate else {},
        "error_rate": error_rate,
    }


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
    assert page.count("<svg") == 3  # throughput, mean and p99 latency for the one scenario
    assert "http://" not in page.replace('xmlns="http://www.w3.org/2000/svg"', "")


def test_histogram_summary_feeds_the_report_shape():
    hist = Histogram()
    hist.record(1_500_000)
    assert set(hist.summary()) >= {"mean", "p50", "p90", "p99", "p99_9", "max"}
