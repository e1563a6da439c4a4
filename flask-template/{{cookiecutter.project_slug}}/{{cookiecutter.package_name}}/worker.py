"""The Celery worker's entry point: `celery -A {{ cookiecutter.package_name }}.worker worker`.

Following Flask's Celery pattern, the worker builds the Flask app, whose factory creates
the Celery app, so tasks run with the same settings, database and app context as the web
processes. The prediction task is `services.jobs.run_prediction_job`.
"""

from .main import create_app

flask_app = create_app()
celery_app = flask_app.extensions["celery"]
