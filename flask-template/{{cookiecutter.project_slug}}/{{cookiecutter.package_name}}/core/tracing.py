"""OpenTelemetry tracing, switched on by OTEL_EXPORTER_OTLP_ENDPOINT.

Unset (the default), no instrumentation is imported and no middleware, hook or log filter
is installed: tracing costs nothing. Set, each request is one trace: the framework's server
span, with the spans of the database{% if cookiecutter.use_celery %}, Redis{% endif %}{% if cookiecutter.use_celery and cookiecutter.use_ml %} and Celery{% endif %} work done for it underneath,
exported over OTLP/HTTP. The standard OTEL_* variables (OTEL_SERVICE_NAME,
OTEL_EXPORTER_OTLP_HEADERS, ...) configure the exporter, and every log line written inside
a trace carries its `trace_id` and `span_id`.
"""

import logging
import os
from typing import TYPE_CHECKING

from flask import Flask

from .db import db

if TYPE_CHECKING:
    from opentelemetry.sdk.trace import SpanProcessor, TracerProvider

SERVICE_NAME = "{{ cookiecutter.project_slug }}"


def tracing_enabled() -> bool:
    return bool(os.environ.get("OTEL_EXPORTER_OTLP_ENDPOINT"))


def create_tracer_provider(processor: "SpanProcessor | None" = None) -> "TracerProvider":
    """A provider exporting over OTLP/HTTP in batches, or through `processor` (tests)."""
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider

    if processor is None:
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
        from opentelemetry.sdk.trace.export import BatchSpanProcessor

        processor = BatchSpanProcessor(OTLPSpanExporter())
    # OTEL_SERVICE_NAME and OTEL_RESOURCE_ATTRIBUTES, when set, win over this default.
    provider = TracerProvider(resource=Resource.create({"service.name": SERVICE_NAME}))
    provider.add_span_processor(processor)
    return provider


class TraceContextFilter(logging.Filter):
    """Adds the current trace and span ids to every record logged inside a span."""

    def filter(self, record: logging.LogRecord) -> bool:
        from opentelemetry import trace

        context = trace.get_current_span().get_span_context()
        if context.is_valid:
            record.trace_id = format(context.trace_id, "032x")
            record.span_id = format(context.span_id, "016x")
        return True


def init_tracing(app: Flask, provider: "TracerProvider") -> None:
    """Trace the app's requests, its engine{% if cookiecutter.use_celery %}, Redis{% endif %}{% if cookiecutter.use_celery and cookiecutter.use_ml %}, Celery{% endif %} and its log lines."""
{%- if cookiecutter.use_celery and cookiecutter.use_ml %}
    from opentelemetry.instrumentation.celery import CeleryInstrumentor
{%- endif %}
    from opentelemetry.instrumentation.flask import FlaskInstrumentor
{%- if cookiecutter.use_celery %}
    from opentelemetry.instrumentation.redis import RedisInstrumentor
{%- endif %}
    from opentelemetry.instrumentation.sqlalchemy import SQLAlchemyInstrumentor

    FlaskInstrumentor.instrument_app(  # type: ignore[no-untyped-call]  # unannotated upstream
        app, tracer_provider=provider
    )
    with app.app_context():
        # It declares SQLAlchemy < 2.1 but uses only SQLAlchemy's stable event API;
        # tests/test_tracing.py shows its spans on the SQLAlchemy this project installs.
        SQLAlchemyInstrumentor().instrument(
            engine=db.engine, tracer_provider=provider, skip_dep_check=True
        )
{%- if cookiecutter.use_celery %}
    RedisInstrumentor().instrument(tracer_provider=provider)
{%- endif %}
{%- if cookiecutter.use_celery and cookiecutter.use_ml %}
    CeleryInstrumentor().instrument(tracer_provider=provider)  # type: ignore[no-untyped-call]
{%- endif %}
    for handler in logging.getLogger().handlers:
        handler.addFilter(TraceContextFilter())
    app.extensions["tracing"] = provider


def stop_tracing(app: Flask) -> None:
    """Undo init_tracing() and flush what is still buffered (tests build many apps)."""
{%- if cookiecutter.use_celery and cookiecutter.use_ml %}
    from opentelemetry.instrumentation.celery import CeleryInstrumentor
{%- endif %}
    from opentelemetry.instrumentation.flask import FlaskInstrumentor
{%- if cookiecutter.use_celery %}
    from opentelemetry.instrumentation.redis import RedisInstrumentor
{%- endif %}
    from opentelemetry.instrumentation.sqlalchemy import SQLAlchemyInstrumentor

    provider: TracerProvider = app.extensions.pop("tracing")
    FlaskInstrumentor.uninstrument_app(app)  # type: ignore[no-untyped-call]
    SQLAlchemyInstrumentor().uninstrument()
{%- if cookiecutter.use_celery %}
    RedisInstrumentor().uninstrument()
{%- endif %}
{%- if cookiecutter.use_celery and cookiecutter.use_ml %}
    CeleryInstrumentor().uninstrument()  # type: ignore[no-untyped-call]
{%- endif %}
    for handler in logging.getLogger().handlers:
        for log_filter in [f for f in handler.filters if isinstance(f, TraceContextFilter)]:
            handler.removeFilter(log_filter)
    provider.force_flush()
