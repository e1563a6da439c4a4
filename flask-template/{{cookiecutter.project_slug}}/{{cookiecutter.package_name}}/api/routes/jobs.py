"""/api/v1/jobs: batch predictions in the background."""

from typing import Any

from flask import current_app, request, url_for
from flask.views import MethodView

{% if cookiecutter.use_auth -%}
from ...core.auth import login_required
{% endif -%}
from ...models import Job
from ...schemas.job import JobSchema, PredictionJobRequestSchema
from ...services import jobs as service
from . import Blueprint
from . import smorest_abort as abort
from .docs import {% if cookiecutter.use_auth %}BEARER, {% endif %}JSON_BODY, problems

blp = Blueprint("jobs", __name__, url_prefix="/api/v1/jobs", description="Background jobs")

# 10,000 rows of 64 numbers do not fit in the usual body limit; jobs get this many times it.
JOB_BODY_LIMIT_FACTOR = 16

LOCATION = {
    "Location": {"description": "The job's URL", "schema": {"type": "string"}, "required": True}
}
{%- if cookiecutter.use_auth %}
SUBMIT_ERRORS = (*JSON_BODY, 401, 503)
{%- else %}
SUBMIT_ERRORS = (*JSON_BODY, 503)
{%- endif %}


@blp.before_request
def allow_larger_bodies() -> None:
    request.max_content_length = JOB_BODY_LIMIT_FACTOR * current_app.config["MAX_CONTENT_LENGTH"]


@blp.route("/predictions")
class PredictionJobs(MethodView):
{%- if cookiecutter.use_auth %}
    @blp.doc(security=BEARER)
    @login_required
{%- endif %}
    @blp.arguments(PredictionJobRequestSchema)
    @blp.response(202, JobSchema, headers=LOCATION)
    @blp.doc(responses=problems(*SUBMIT_ERRORS))
    def post(self, body: dict[str, Any]) -> tuple[Job, dict[str, str]]:
        """Queue a prediction over up to 10,000 rows; poll the job's URL for the result."""
        job = service.create_job(body["inputs"])
        service.dispatch_job(job.id)
        return job, {"Location": url_for("jobs.JobById", job_id=job.id)}


# Job ids are 32 characters long: /predictions is not one, so its Allow lists POST alone.
@blp.route("/<string(length=32):job_id>")
class JobById(MethodView):
    @blp.response(200, JobSchema)
    @blp.doc(responses=problems(404, 503))
    def get(self, job_id: str) -> Job:
        """A job's status, and its result once it has one."""
        job = service.get_job(job_id)
        if job is None:
            abort(404, message=f"Job {job_id} not found")
        return job
