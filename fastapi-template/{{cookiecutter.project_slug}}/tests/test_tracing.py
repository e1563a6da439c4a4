"""Tracing, with the SDK's in-memory exporter standing in for an OTLP collector."""

import json
import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind

from {{ cookiecutter.package_name }}.core.config import get_settings
from {{ cookiecutter.package_name }}.core.logging import JsonFormatter
from {{ cookiecutter.package_name }}.core.tracing import create_tracer_provider, instrument_app
from {{ cookiecutter.package_name }}.main import create_app

PROJECT_DIR = Path(__file__).resolve().parent.parent


@pytest.fixture
def exporter() -> InMemorySpanExporter:
    return InMemorySpanExporter()


@pytest.fixture
def traced_client(
    exporter: InMemorySpanExporter,
{%- if cookiecutter.use_celery %}
    redis_url: str,
{%- endif %}
{%- if cookiecutter.use_auth %}
    auth_headers: dict[str, str],
{%- endif %}
) -> Iterator[TestClient]:
{%- if cookiecutter.use_celery %}
    settings = get_settings().model_copy(update={"redis_url": redis_url, "log_level": "INFO"})
{%- else %}
    settings = get_settings().model_copy(update={"log_level": "INFO"})
{%- endif %}
    app = create_app(settings)
    instrument_app(app, create_tracer_provider(SimpleSpanProcessor(exporter)))
{%- if cookiecutter.use_auth %}
    with TestClient(app, headers=auth_headers) as client:
{%- else %}
    with TestClient(app) as client:
{%- endif %}
        yield client


def root_of(span: ReadableSpan, spans: list[ReadableSpan]) -> ReadableSpan:
    by_id = {s.context.span_id: s for s in spans}
    while span.parent is not None:
        span = by_id[span.parent.span_id]
    return span


def spans_where(spans: list[ReadableSpan], test: Callable[[ReadableSpan], bool]) -> list:
    return [span for span in spans if test(span)]


def test_one_trace_per_request_with_its_database_and_redis_spans(
    traced_client: TestClient,
    exporter: InMemorySpanExporter,
    item_payload: dict,
    caplog: pytest.LogCaptureFixture,
):
    item = traced_client.post("/api/v1/items", json=item_payload).json()
    exporter.clear()
    caplog.clear()

    response = traced_client.get(f"/api/v1/items/{item['id']}")
    assert response.status_code == 200

    spans = list(exporter.get_finished_spans())
    servers = spans_where(spans, lambda span: span.kind == SpanKind.SERVER)
    assert len(servers) == 1, [span.name for span in spans]
    request_span = servers[0]
    assert request_span.parent is None
    assert {span.context.trace_id for span in spans} == {request_span.context.trace_id}

    def system(span: ReadableSpan) -> object:
        attributes = span.attributes or {}
        return attributes.get("db.system.name", attributes.get("db.system"))

    database_spans = spans_where(spans, lambda span: system(span) in ("sqlite", "postgresql"))
    assert database_spans, [span.name for span in spans]
    under_request = database_spans
{%- if cookiecutter.use_celery %}
    # A cache miss: the item is looked up in Redis, read from the database, then cached.
    redis_spans = spans_where(spans, lambda span: system(span) == "redis")
    assert {span.name for span in redis_spans} >= {"GET", "SET"}, [s.name for s in spans]
    under_request = database_spans + redis_spans
{%- endif %}
    assert all(root_of(span, spans) is request_span for span in under_request)

    trace_id = format(request_span.context.trace_id, "032x")
    # The access line, as the app's JSON formatter writes it.
    access = [
        json.loads(JsonFormatter().format(record))
        for record in caplog.records
        if record.name.endswith(".access")
    ]
    assert [line.get("trace_id") for line in access] == [trace_id]
    assert len(access[0]["span_id"]) == 16


def test_each_request_is_its_own_trace(traced_client: TestClient, exporter: InMemorySpanExporter):
    traced_client.get("/health")
    traced_client.get("/health")
    servers = [s for s in exporter.get_finished_spans() if s.kind == SpanKind.SERVER]
    assert len({span.context.trace_id for span in servers}) == 2


def test_tracing_is_off_and_its_instrumentation_not_loaded_without_an_endpoint():
    environment = {k: v for k, v in os.environ.items() if not k.startswith("OTEL_")}
    # redis-py imports parts of OpenTelemetry by itself; these only core/tracing.py loads.
    loaded_by_tracing = ("opentelemetry.instrumentation", "opentelemetry.sdk.trace")
    probe = (
        f"import sys; LOADED_BY_TRACING = {loaded_by_tracing!r}; "
        "from {{ cookiecutter.package_name }}.main import create_app; app = create_app(); "
        "print(app.state.tracer_provider, "
        "any(m.startswith(LOADED_BY_TRACING) for m in sys.modules))"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe],
        cwd=PROJECT_DIR,
        env=environment,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.stdout.split() == ["None", "False"], result.stderr
