"""Background prediction jobs: submit many rows, then poll for the result."""

import logging
from typing import Annotated

from fastapi import APIRouter, Path, Response
from starlette.convertors import Convertor, register_url_convertor

{% if cookiecutter.use_auth -%}
from {{ cookiecutter.package_name }}.api.deps import (
    AUTH_ERRORS,
    JSON_BODY_ERRORS,
    Authenticated,
    JobRunnerDep,
    JsonBody,
    SessionDep,
)
{% else -%}
from {{ cookiecutter.package_name }}.api.deps import (
    JSON_BODY_ERRORS,
    JobRunnerDep,
    JsonBody,
    SessionDep,
)
{% endif -%}
from {{ cookiecutter.package_name }}.core.errors import ProblemError, problem_responses
from {{ cookiecutter.package_name }}.models.job import Job
from {{ cookiecutter.package_name }}.schemas.job import JobCreate, JobRead
from {{ cookiecutter.package_name }}.services.jobs import JOB_ID, create_job, fail_job, get_job

router = APIRouter(prefix="/api/v1/jobs", tags=["jobs"])
logger = logging.getLogger(__name__)

PREDICTION_JOBS_PATH = f"{router.prefix}/predictions"
# 10,000 rows of 64 numbers do not fit in the usual body limit; jobs get this many times it.
JOB_BODY_LIMIT_FACTOR = 16
LOCATION_HEADER = {
    "Location": {
        "description": "The job's URL, to poll",
        "schema": {"type": "string"},
        "required": True,
    }
}


class JobIdConvertor(Convertor[str]):
    """A path segment that can be a job id. Nothing else reaches read_job, so that
    /api/v1/jobs/predictions has POST only (GET there: 405), as the OpenAPI document says."""

    regex = JOB_ID.pattern

    def convert(self, value: str) -> str:
        return value

    def to_string(self, value: str) -> str:
        return value


register_url_convertor("job_id", JobIdConvertor())


{% if cookiecutter.use_auth -%}
@router.post(
    "/predictions",
    status_code=202,
    response_model=JobRead,
    dependencies=[JsonBody, Authenticated],
    responses={
        202: {"headers": LOCATION_HEADER},
        **problem_responses(*JSON_BODY_ERRORS, *AUTH_ERRORS, 503),
    },
)
{% else -%}
@router.post(
    "/predictions",
    status_code=202,
    response_model=JobRead,
    dependencies=[JsonBody],
    responses={202: {"headers": LOCATION_HEADER}, **problem_responses(*JSON_BODY_ERRORS, 503)},
)
{% endif -%}
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


@router.get("/{job_id:job_id}", response_model=JobRead, responses=problem_responses(404, 503))
async def read_job(
    job_id: Annotated[str, Path(pattern=f"^{JOB_ID.pattern}$")], session: SessionDep
) -> Job:
    job = await get_job(session, job_id)
    if job is None:
        raise ProblemError(404, f"Job {job_id} not found")
    return job
