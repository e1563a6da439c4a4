"""Prediction jobs: create, dispatch, run and read them.

The `jobs` row is the single source of truth. It is committed before the client gets its
202, the runner updates it as the job moves on, and reads go to the database, so every
worker process sees every job wherever it runs.
{% if cookiecutter.use_celery %}
Jobs run on Celery when CELERY_BROKER_URL is set, and in a thread pool inside the web
process otherwise.
{%- else %}
Jobs run in a thread pool inside the web process.
{%- endif %}
"""

import logging
import re
import uuid
from concurrent.futures import Future, ThreadPoolExecutor

from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session, sessionmaker
{%- if cookiecutter.use_celery %}
from starlette.concurrency import run_in_threadpool
{%- endif %}

from {{ cookiecutter.package_name }}.core.config import Settings
from {{ cookiecutter.package_name }}.core.db import get_sync_session_factory
from {{ cookiecutter.package_name }}.ml.model import load_model
from {{ cookiecutter.package_name }}.models.job import Job, JobStatus

logger = logging.getLogger(__name__)

JOB_THREADS = 2
# The form of every id create_job hands out (uuid4().hex); no other string names a job.
JOB_ID = re.compile(r"[0-9a-f]{32}")
FAILURE_MESSAGE = "The prediction failed; see the service logs for details"


async def create_job(session: AsyncSession, inputs: list[list[float]]) -> Job:
    job = Job(id=uuid.uuid4().hex, status=JobStatus.PENDING, inputs=inputs)
    session.add(job)
    await session.commit()
    return job


async def fail_job(session: AsyncSession, job: Job, error: str) -> None:
    job.status, job.error = JobStatus.FAILURE, error
    await session.commit()


async def get_job(session: AsyncSession, job_id: str) -> Job | None:
    if not JOB_ID.fullmatch(job_id):
        return None
    return await session.get(Job, job_id)


def run_job(session_factory: sessionmaker[Session], job_id: str) -> str:
    """Run one job to completion and record the outcome; returns the final status.

    Synchronous on purpose: the Celery worker and the in-process thread pool both call it,
    and neither has an event loop.
    """
    with session_factory() as session:
        job = session.get(Job, job_id)
        if job is None:
            logger.warning("Job %s does not exist", job_id)
            return JobStatus.FAILURE
        job.status = JobStatus.STARTED
        session.commit()
        try:
            predictions = load_model().predict(job.inputs)
        except Exception:
            logger.exception("Job %s failed", job_id)
            job.status, job.error = JobStatus.FAILURE, FAILURE_MESSAGE
        else:
            job.status, job.result = JobStatus.SUCCESS, {"predictions": predictions}
        session.commit()
        return job.status


def _log_crash(future: Future[str]) -> None:
    if (exc := future.exception()) is not None:
        logger.error("Job runner crashed", exc_info=exc)


class JobRunner:
    """Hands committed jobs to whatever runs them."""

    def __init__(self, settings: Settings) -> None:
        self.database_url = settings.database_url
{%- if cookiecutter.use_celery %}
        self.use_celery = bool(settings.celery_broker_url)
{%- endif %}
        self._executor = ThreadPoolExecutor(max_workers=JOB_THREADS, thread_name_prefix="jobs")

    async def submit(self, job_id: str) -> None:
{%- if cookiecutter.use_celery %}
        if self.use_celery:
            from {{ cookiecutter.package_name }}.worker import predict_digits_job

            # Publishing talks to the broker over a blocking socket: keep it off the loop.
            await run_in_threadpool(predict_digits_job.delay, job_id)
            return
{%- endif %}
        session_factory = get_sync_session_factory(self.database_url)
        self._executor.submit(run_job, session_factory, job_id).add_done_callback(_log_crash)

    def shutdown(self) -> None:
        # Finish the jobs already accepted: their 202 promised a result. gunicorn's
        # graceful_timeout bounds the wait.
        self._executor.shutdown(wait=True)
