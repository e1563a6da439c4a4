"""/api/v1/jobs: batch predictions in the background."""

from typing import Any

from flask import current_app, request, url_for
from flask.views import MethodView

from ...models import Job
from ...schemas.job import JobSchema, PredictionJobRequestSchema
from ...services import jobs as service
from . import Blueprint
from . import smorest_abort as abort

blp = Blueprint("jobs", __name__, url_prefix="/api/v1/jobs", description="Background jobs")

# 10,000 rows of 64 numbers do not fit in the usual body limit; jobs get this many times it.
JOB_BODY_LIMIT_FACTOR = 16


@blp.before_request
def allow_larger_bodies() -> None:
    request.max_content_length = JOB_BODY_LIMIT_FACTOR * current_app.config["MAX_CONTENT_LENGTH"]


@blp.route("/predictions")
class PredictionJobs(MethodView):
    @blp.arguments(PredictionJobRequestSchema)
    @blp.response(202, JobSchema)
    def post(self, body: dict[str, Any]) -> tuple[Job, dict[str, str]]:
        """Queue a prediction over up to 10,000 rows; poll the job's URL for the result."""
        job = service.create_job(body["inputs"])
        service.dispatch_job(job.id)
        return job, {"Location": url_for("jobs.JobById", job_id=job.id)}


@blp.route("/<job_id>")
class JobById(MethodView):
    @blp.response(200, JobSchema)
    def get(self, job_id: str) -> Job:
        """A job's status, and its result once it has one."""
        job = service.get_job(job_id)
        if job is None:
            abort(404, message=f"Job {job_id} not found")
        return job
