"""The Celery worker's entry point: `celery -A {{ cookiecutter.package_name }}.worker worker`.

Following Flask's Celery pattern, the worker builds the Flask app, whose factory creates
the Celery app, so tasks run with the same settings, database and app context as the web
processes. The prediction task is `services.jobs.run_prediction_job`.
"""

from celery.signals import setup_logging

from .core.logging import configure_logging
from .main import create_app

{% if cookiecutter.use_auth -%}
# The web service's gunicorn master sets up the admin user.
flask_app = create_app(bootstrap_admin=False)
{% else -%}
flask_app = create_app()
{% endif -%}
celery_app = flask_app.extensions["celery"]


@setup_logging.connect
def use_json_logs(**kwargs: object) -> None:
    """Log like the web processes: JSON lines on stderr, at `LOG_LEVEL`.

    Connecting this signal keeps Celery from installing its own handlers and from
    redirecting stderr into the logging system, where our handler's lines would vanish.
    """
    configure_logging(flask_app.config["LOG_LEVEL"])
