"""Tracing, with the SDK's in-memory exporter standing in for an OTLP collector."""

import json
import logging
import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind

{% if not cookiecutter.use_auth -%}
from {{ cookiecutter.package_name }}.core.db import db
{% endif -%}
from {{ cookiecutter.package_name }}.core.tracing import create_tracer_provider, init_tracing, stop_tracing

PROJECT_DIR = Path(__file__).resolve().parent.parent
ITEM = {"name": "Desk lamp", "price": 39.5, "tags": ["lighting"]}


def flush_logs() -> None:
    """Write out the lines the log handler keeps for its next batch."""
    for handler in logging.getLogger().handlers:
        handler.flush()


@pytest.fixture
def exporter() -> InMemorySpanExporter:
    return InMemorySpanExporter()


@pytest.fixture
def traced_client(
    make_app,
    exporter: InMemorySpanExporter,
{%- if cookiecutter.use_auth %}
    authorize,
{%- endif %}
{%- if cookiecutter.use_celery %}
    redis_url: str,
{%- endif %}
) -> Iterator:
{%- if cookiecutter.use_celery %}
    app = make_app(REDIS_URL=redis_url)
{%- else %}
    app = make_app()
{%- endif %}
{%- if not cookiecutter.use_auth %}
    with app.app_context():
        for table in reversed(db.metadata.sorted_tables):
            db.session.execute(table.delete())
        db.session.commit()
{%- endif %}
    init_tracing(app, create_tracer_provider(SimpleSpanProcessor(exporter)))
    try:
{%- if cookiecutter.use_auth %}
        # `authorize` asks for the `app` fixture, which has emptied the tables already.
        yield authorize(app.test_client())
{%- else %}
        yield app.test_client()
{%- endif %}
    finally:
        stop_tracing(app)


def root_of(span: ReadableSpan, spans: list[ReadableSpan]) -> ReadableSpan:
    by_id = {s.context.span_id: s for s in spans}
    while span.parent is not None:
        span = by_id[span.parent.span_id]
    return span


def spans_where(spans: list[ReadableSpan], test: Callable[[ReadableSpan], bool]) -> list:
    return [span for span in spans if test(span)]


def test_one_trace_per_request_with_its_database_and_redis_spans(
    traced_client, exporter: InMemorySpanExporter, capsys
):
    item = traced_client.post("/api/v1/items", json=ITEM).get_json()
    exporter.clear()
    flush_logs()
    capsys.readouterr()

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
    flush_logs()
    lines = [json.loads(line) for line in capsys.readouterr().err.splitlines() if line[:1] == "{"]
    access = [line for line in lines if line["logger"].endswith(".access")]
    assert [line["trace_id"] for line in access] == [trace_id]
    assert len(access[0]["span_id"]) == 16


def test_each_request_is_its_own_trace(traced_client, exporter: InMemorySpanExporter):
    traced_client.get("/health")
    traced_client.get("/health")
    servers = [s for s in exporter.get_finished_spans() if s.kind == SpanKind.SERVER]
    assert len({span.context.trace_id for span in servers}) == 2


def test_tracing_is_off_and_its_instrumentation_not_loaded_without_an_endpoint(database_url):
    environment = {k: v for k, v in os.environ.items() if not k.startswith("OTEL_")}
    environment["DATABASE_URL"] = database_url
    # redis-py imports parts of OpenTelemetry by itself; these only core/tracing.py loads.
    loaded_by_tracing = ("opentelemetry.instrumentation", "opentelemetry.sdk.trace")
    probe = (
        f"import sys; LOADED_BY_TRACING = {loaded_by_tracing!r}; "
        "from {{ cookiecutter.package_name }}.main import create_app; app = create_app(); "
        "print('tracing' in app.extensions, "
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
    assert result.stdout.split() == ["False", "False"], result.stderr
