"""Background prediction jobs: submit many rows, then poll for the result."""

import logging

from fastapi import APIRouter, Response

from {{ cookiecutter.package_name }}.api.deps import JobRunnerDep, JsonBody, SessionDep
from {{ cookiecutter.package_name }}.core.errors import ProblemError
from {{ cookiecutter.package_name }}.models.job import Job
from {{ cookiecutter.package_name }}.schemas.job import JobCreate, JobRead
from {{ cookiecutter.package_name }}.services.jobs import create_job, fail_job, get_job

router = APIRouter(prefix="/api/v1/jobs", tags=["jobs"])
logger = logging.getLogger(__name__)

PREDICTION_JOBS_PATH = f"{router.prefix}/predictions"
# 10,000 rows of 64 numbers do not fit in the usual body limit; jobs get this many times it.
JOB_BODY_LIMIT_FACTOR = 16


@router.post("/predictions", status_code=202, response_model=JobRead, dependencies=[JsonBody])
async def submit_prediction_job(
    body: JobCreate, session: SessionDep, runner: JobRunnerDep, response: Response
) -> Job:
    job = await create_job(session, body.inputs)
    try:
        await runner.submit(job.id)
    except Exception:
        logger.exception("Could not queue job %s", job.id)
        await fail_job(session, job, "The job could not be queued")
        raise ProblemError(503, "Job queue is unavailable") from None
    response.headers["Location"] = f"{router.prefix}/{job.id}"
    return job


@router.get("/{job_id}", response_model=JobRead)
async def read_job(job_id: str, session: SessionDep) -> Job:
    job = await get_job(session, job_id)
    if job is None:
        raise ProblemError(404, f"Job {job_id} not found")
    return job
