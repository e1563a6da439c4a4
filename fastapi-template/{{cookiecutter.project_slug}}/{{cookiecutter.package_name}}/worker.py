"""The Celery application and its prediction task. Start a worker with:

    celery -A {{ cookiecutter.package_name }}.worker worker

The task is synchronous, like Celery itself: it opens a plain SQLAlchemy session (psycopg
or sqlite3) rather than running the async stack under asyncio.run(), so each worker process
keeps one connection pool for its whole life and no event loop is involved.
"""

from celery import Celery
from celery.signals import worker_process_init

from {{ cookiecutter.package_name }}.core.config import Settings, get_settings
from {{ cookiecutter.package_name }}.core.db import get_sync_session_factory
from {{ cookiecutter.package_name }}.core.tracing import create_tracer_provider, tracing_enabled
from {{ cookiecutter.package_name }}.services.jobs import run_job


def create_celery_app(settings: Settings) -> Celery:
    app = Celery(
        "{{ cookiecutter.package_name }}",
        broker=settings.celery_broker_url or None,
        backend=settings.celery_backend_url or None,
    )
    app.conf.update(
        task_acks_late=True,
        worker_prefetch_multiplier=1,
        broker_connection_retry_on_startup=True,
        task_serializer="json",
        result_serializer="json",
        accept_content=["json"],
        # Fail fast when the broker is down, instead of retrying for minutes.
        broker_connection_timeout=2,
        task_publish_retry_policy={"max_retries": 2, "interval_start": 0, "interval_step": 0.5},
    )
    return app


celery_app = create_celery_app(get_settings())


@worker_process_init.connect(weak=False)
def trace_worker_process(**_: object) -> None:
    """With tracing on, each worker process joins its tasks to the traces that queued them."""
    if tracing_enabled():
        from opentelemetry.instrumentation.celery import CeleryInstrumentor

        instrumentor = CeleryInstrumentor()  # type: ignore[no-untyped-call]  # unannotated
        instrumentor.instrument(tracer_provider=create_tracer_provider())


@celery_app.task(name="{{ cookiecutter.package_name }}.predict_digits_job")
def predict_digits_job(job_id: str) -> str:
    return run_job(get_sync_session_factory(get_settings().database_url), job_id)
