"""/health (the process is alive), /ready (its dependencies answer) and /metrics."""

import logging
from typing import Any

{% if cookiecutter.use_celery -%}
from flask import Response, current_app
{% else -%}
from flask import Response
{% endif -%}
from flask.views import MethodView
from sqlalchemy import text

from ...core.db import db
from ...core.metrics import render_metrics
{%- if cookiecutter.use_websockets %}
from ...core.realtime import current_hub
{%- endif %}
{%- if cookiecutter.use_ml %}
from ...ml.model import load_model
{%- endif %}
from ...schemas.health import HealthSchema, ReadySchema
from . import Blueprint

logger = logging.getLogger(__name__)

blp = Blueprint("operations", __name__, description="Liveness, readiness and metrics")

HEALTHY = b'{"status":"ok"}'
METRICS_RESPONSE = {
    "description": "Prometheus text format",
    "content": {"text/plain": {"schema": {"type": "string"}}},
}


def check_database() -> str:
    db.session.execute(text("SELECT 1"))
    return "ok"


def check_redis() -> str:
{%- if cookiecutter.use_celery %}
    client = current_app.extensions["item_cache"]
    if client is None:
        return "disabled"
    client.ping()
    return "ok"
{%- else %}
    return "disabled"
{%- endif %}


def check_model() -> str:
{%- if cookiecutter.use_ml %}
    load_model()
    return "ok"
{%- else %}
    return "disabled"
{%- endif %}


CHECKS = {"database": check_database, "redis": check_redis, "model": check_model}


def run_checks() -> dict[str, str]:
    results = {}
    for name, check in CHECKS.items():
        try:
            results[name] = check()
        except Exception as error:
            logger.warning("Readiness check %s failed: %s", name, error)
            results[name] = "fail"
    return results


@blp.route("/health")
class Health(MethodView):
    @blp.response(200, HealthSchema)
    def get(self) -> Response:
        """Liveness: 200 while the process can answer."""
        # Probes call this on every replica several times a second, and the answer never
        # changes: it is sent as it is, without dumping a schema and encoding JSON each
        # time (the schema still documents it).
        return Response(HEALTHY, content_type="application/json")


@blp.route("/ready")
class Ready(MethodView):
    @blp.response(200, ReadySchema)
    @blp.alt_response(503, schema=ReadySchema, description="A check failed: the report says which")
    def get(self) -> tuple[dict[str, Any], int]:
        """Readiness: 200 when the database (and Redis, and the model) answer, else 503."""
        checks = run_checks()
        failed = "fail" in checks.values()
        status = "fail" if failed else "ok"
{%- if cookiecutter.use_websockets %}
        # "local": WebSocket rooms reach this process only; "redis": they span every process
        body = {"status": status, "checks": checks, "realtime": current_hub().scope}
{%- else %}
        body = {"status": status, "checks": checks}
{%- endif %}
        return body, 503 if failed else 200


@blp.route("/metrics")
class Metrics(MethodView):
    @blp.doc(responses={200: METRICS_RESPONSE})
    def get(self) -> Response:
        """Prometheus text format, summed over every worker process."""
        return render_metrics()
