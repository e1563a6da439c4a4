"""Prometheus request metrics, correct across gunicorn's worker processes.

With `PROMETHEUS_MULTIPROC_DIR` set (gunicorn.conf.py sets it up), every process writes
its samples to files there and `/metrics` adds them up; without it, the metrics live in
this process only, which is what the tests and `flask run` need.
"""

import os
import re
import time
from functools import cache

from flask import Flask, Response, g, request
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
    multiprocess,
)

LABELS = ("method", "route", "status")
UNMATCHED_ROUTE = "<unmatched>"

REQUESTS = Counter("http_requests_total", "HTTP requests handled.", LABELS)
LATENCY = Histogram("http_request_duration_seconds", "Time spent handling HTTP requests.", LABELS)

_RULE_VARIABLE = re.compile(r"<(?:[^:<>]+:)?([^<>]+)>")


@cache
def route_template(rule: str) -> str:
    """`/api/v1/items/<int:item_id>` becomes `/api/v1/items/{item_id}`."""
    return _RULE_VARIABLE.sub(lambda match: "{" + match.group(1) + "}", rule)


def _observe(response: Response) -> Response:
    duration = time.perf_counter() - g.started_at
    rule = request.url_rule
    route = route_template(rule.rule) if rule is not None else UNMATCHED_ROUTE
    key = (request.method, route, response.status_code)
    series = SERIES.get(key)
    if series is None:
        labels = (key[0], route, str(key[2]))
        series = SERIES[key] = (REQUESTS.labels(*labels), LATENCY.labels(*labels))
    series[0].inc()
    series[1].observe(duration)
    return response


# Each label set's counter and histogram, looked up once: `labels()` takes a lock and builds
# its key on every call.
SERIES: dict[tuple[str, str, int], tuple[Counter, Histogram]] = {}


def render_metrics() -> Response:
    if "PROMETHEUS_MULTIPROC_DIR" in os.environ:
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]  # unannotated upstream
    else:
        registry = REGISTRY
    return Response(generate_latest(registry), content_type=CONTENT_TYPE_LATEST)


def init_metrics(app: Flask) -> None:
    """Count and time every request, labelled with its route template."""
    app.after_request(_observe)
