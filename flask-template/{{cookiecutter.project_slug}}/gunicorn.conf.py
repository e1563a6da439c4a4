"""gunicorn settings: `gunicorn -c gunicorn.conf.py`.

gthread workers: each worker process serves up to GUNICORN_THREADS requests at once.
{%- if cookiecutter.use_websockets %}
An open WebSocket holds one of those threads for as long as it stays open.
{%- endif %}
Pending database migrations run once, in the master, before any worker starts.
"""

import os
import tempfile
from pathlib import Path

from {{ cookiecutter.package_name }}.core.config import load_settings

# Prometheus' multiprocess mode must be chosen before prometheus_client is imported
# anywhere, and before the workers fork: every process then writes its samples to files
# in this directory and /metrics adds them up.
metrics_dir = Path(
    os.environ.get("PROMETHEUS_MULTIPROC_DIR") or tempfile.mkdtemp(prefix="prometheus-")
)
os.environ["PROMETHEUS_MULTIPROC_DIR"] = str(metrics_dir)

settings = load_settings()

wsgi_app = "{{ cookiecutter.package_name }}.main:create_app()"
bind = settings["BIND"]
workers = settings["WEB_CONCURRENCY"]
worker_class = "gthread"
threads = settings["GUNICORN_THREADS"]
# The application logs one JSON access line per request itself.
accesslog = None
# gunicorn's own messages go out as the same JSON lines as the application's.
logconfig_dict = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"json": {"()": "{{ cookiecutter.package_name }}.core.logging.JsonFormatter"}},
    "handlers": {
        "stderr": {
            "class": "{{ cookiecutter.package_name }}.core.logging.StderrHandler",
            "formatter": "json",
        }
    },
    "root": {"level": "INFO", "handlers": ["stderr"]},
    "loggers": {"gunicorn.error": {"level": "INFO", "handlers": [], "propagate": True}},
}


def on_starting(server):
    """In the master, once: clear old metric files and apply migrations."""
    metrics_dir.mkdir(parents=True, exist_ok=True)
    for stale in metrics_dir.glob("*.db"):
        stale.unlink()
    if settings["MIGRATE_ON_START"]:
        from {{ cookiecutter.package_name }}.core.db import upgrade_database

        upgrade_database()


def child_exit(server, worker):
    """A worker is gone: fold its live gauges away so /metrics stays correct."""
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(worker.pid)
