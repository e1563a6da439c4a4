"""Prediction jobs: create the row, dispatch the work, run it, read it back.

The `jobs` row is the job's state. It is committed before the client hears of the job,
and the task updates it, so any worker process can answer `GET /api/v1/jobs/<id>`.
{%- if cookiecutter.use_celery %}
With `CELERY_BROKER_URL` set the task runs on a Celery worker; otherwise it runs in a
small thread pool inside the web process.
{%- else %}
The task runs in a small thread pool inside the web process.
{%- endif %}
"""

import logging
from concurrent.futures import ThreadPoolExecutor
from functools import cache

{% if cookiecutter.use_celery -%}
from celery import shared_task
{% endif -%}
from flask import Flask, current_app

from ..core.db import db
from ..ml.model import load_model
from ..models.job import FAILURE, STARTED, SUCCESS, Job, is_job_id

logger = logging.getLogger(__name__)

LOCAL_JOB_THREADS = 2


def create_job(inputs: list[list[float]]) -> Job:
    job = Job(inputs=inputs)
    db.session.add(job)
    db.session.commit()
    return job


def get_job(job_id: str) -> Job | None:
    # Anything that is not an id we made cannot be a job, and some strings (a NUL byte)
    # a database such as PostgreSQL would refuse outright.
    if not is_job_id(job_id):
        return None
    return db.session.get(Job, job_id)


def run_job(job_id: str) -> str | None:
    """Predict every row of the job and store the outcome on its row; returns its status."""
    job = get_job(job_id)
    if job is None:
        logger.warning("Job %s does not exist", job_id)
        return None
    job.status = STARTED
    db.session.commit()
    try:
        predictions = load_model().predict(job.inputs)
    except Exception as error:
        logger.exception("Job %s failed", job_id)
        job.status = FAILURE
        job.error = str(error) or type(error).__name__
    else:
        job.status = SUCCESS
        job.result = {"predictions": predictions}
    db.session.commit()
    return job.status


@cache
def _local_executor() -> ThreadPoolExecutor:
    # Created on first use, so each worker process gets its own threads.
    return ThreadPoolExecutor(max_workers=LOCAL_JOB_THREADS, thread_name_prefix="jobs")


def _run_in_app(app: Flask, job_id: str) -> None:
    with app.app_context():
        run_job(job_id)
{%- if cookiecutter.use_celery %}


@shared_task
def run_prediction_job(job_id: str) -> str | None:
    """The Celery task; Flask's Celery integration runs it inside an app context.

    Its task id is the job id, so the result backend holds the job's final status under
    the same id; the predictions themselves live on the job's row.
    """
    return run_job(job_id)
{%- endif %}


def dispatch_job(job_id: str) -> None:
{%- if cookiecutter.use_celery %}
    if current_app.config["CELERY_BROKER_URL"]:
        run_prediction_job.apply_async((job_id,), task_id=job_id)
        return
{%- endif %}
    # The app itself, not the context-bound proxy Flask types it as, for the other thread.
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    _local_executor().submit(_run_in_app, app, job_id)
