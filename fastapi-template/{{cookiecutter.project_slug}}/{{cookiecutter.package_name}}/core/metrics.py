"""Prometheus request metrics, correct across gunicorn worker processes.

When PROMETHEUS_MULTIPROC_DIR is set (gunicorn.conf.py sets it up), every process writes
its samples to files there and /metrics aggregates them, so any worker answers for all.
"""

import os
import re
import time

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
)
from prometheus_client.multiprocess import MultiProcessCollector
from starlette.routing import Mount
from starlette.types import ASGIApp, Message, Receive, Scope, Send

UNMATCHED_ROUTE = "<unmatched>"
# Path converters such as {item_id:int} are reported in plain {item_id} form.
CONVERTER = re.compile(r"\{(\w+):\w+\}")

REQUESTS = Counter(
    "http_requests_total",
    "HTTP requests handled, by method, route template and status.",
    ["method", "route", "status"],
)
LATENCY = Histogram(
    "http_request_duration_seconds",
    "HTTP request latency in seconds, by method, route template and status.",
    ["method", "route", "status"],
)


def route_template(scope: Scope) -> str:
    route = scope.get("route")
    if route is None:
        return UNMATCHED_ROUTE
    path = getattr(route, "path", UNMATCHED_ROUTE)
    template = TEMPLATES.get(path)
    if template is None:
        template = CONVERTER.sub(r"{\1}", path)
        if isinstance(route, Mount):
            template = f"{template}/{% raw %}{{path}}{% endraw %}"
        TEMPLATES[path] = template
    return template


TEMPLATES: dict[str, str] = {}  # route path -> its template, worked out once per route


def render_metrics() -> tuple[bytes, str]:
    if "PROMETHEUS_MULTIPROC_DIR" in os.environ:
        registry = CollectorRegistry()
        MultiProcessCollector(registry)  # type: ignore[no-untyped-call]  # unannotated upstream
    else:
        registry = REGISTRY
    return generate_latest(registry), CONTENT_TYPE_LATEST


class MetricsMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        # Each label set's counter and histogram, looked up once: `labels()` takes a lock
        # and builds its key on every call.
        self.series: dict[tuple[str, str, int], tuple[Counter, Histogram]] = {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        start = time.perf_counter()
        status = 500

        async def send_recording_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_recording_status)
        finally:
            duration = time.perf_counter() - start
            key = (scope["method"], route_template(scope), status)
            series = self.series.get(key)
            if series is None:
                labels = (key[0], key[1], str(status))
                series = self.series[key] = (REQUESTS.labels(*labels), LATENCY.labels(*labels))
            series[0].inc()
            series[1].observe(duration)
