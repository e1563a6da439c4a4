"""Production server: `gunicorn -c gunicorn.conf.py` from the project root.

Settings come from the environment (and .env): BIND, WEB_CONCURRENCY, MIGRATE_ON_START.
With ENVIRONMENT=production, unsafe settings stop it here, before any worker starts.
"""

import os
import shutil
import tempfile
from pathlib import Path

import uvicorn_worker

from {{ cookiecutter.package_name }}.core.config import (
    GENERATED_SECRET_KEY_WARNING,
    exit_if_unsafe_for_production,
    generate_secret_key,
    get_settings,
)
{%- if cookiecutter.use_websockets %}
from {{ cookiecutter.package_name }}.core.graceful import (
    GoingAwayWebSocketProtocol,
    GracefulHttpToolsProtocol,
)
{%- else %}
from {{ cookiecutter.package_name }}.core.graceful import GracefulHttpToolsProtocol
{%- endif %}

settings = get_settings()
exit_if_unsafe_for_production(settings)

wsgi_app = "{{ cookiecutter.package_name }}.main:app"


class UvicornWorker(uvicorn_worker.UvicornWorker):
    CONFIG_KWARGS = {
        **uvicorn_worker.UvicornWorker.CONFIG_KWARGS,
        # A request head over 16 KiB is refused with 431 while it arrives; a stopping worker
        # answers the requests already on their way on its kept-alive connections.
        "http": GracefulHttpToolsProtocol,
{%- if cookiecutter.use_websockets %}
        # A stopping worker closes its WebSockets with 1001 (going away).
        "ws": GoingAwayWebSocketProtocol,
        # A WebSocket message over WS_MAX_MESSAGE_BYTES closes the connection with 1009 in
        # the server itself, before it is buffered whole.
        "ws_max_size": settings.ws_max_message_bytes,
{%- endif %}
    }


def kernel_moves_queued_connections() -> bool:
    """Whether a listening socket that closes hands the connections queued on it to another
    socket of its port instead of resetting them: net.ipv4.tcp_migrate_req=1 (Linux 5.14+,
    set per network namespace)."""
    try:
        return Path("/proc/sys/net/ipv4/tcp_migrate_req").read_text().strip() == "1"
    except OSError:
        return False


worker_class = UvicornWorker
bind = settings.bind
workers = settings.web_concurrency
# Each worker listens on a socket of its own (SO_REUSEPORT) and the kernel spreads new
# connections over them, rather than the first worker to wake taking every connection that
# waits. Only where the kernel moves a stopping worker's queued connections to the others:
# without that, every reload and stop would reset them.
reuse_port = kernel_moves_queued_connections() and not bind.startswith(("unix:", "fd://"))
# The application writes its own JSON access lines.
accesslog = None
graceful_timeout = 20
keepalive = 5

# Prometheus multiprocess mode: every worker writes its samples under this directory and
# /metrics aggregates them. It has to be in the environment before the workers start.
if "PROMETHEUS_MULTIPROC_DIR" not in os.environ:
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = tempfile.mkdtemp(prefix="prometheus-")


def on_starting(server) -> None:
    metrics_dir = Path(os.environ["PROMETHEUS_MULTIPROC_DIR"])
    # Samples from a previous run would be counted again.
    shutil.rmtree(metrics_dir, ignore_errors=True)
    metrics_dir.mkdir(parents=True, exist_ok=True)

    if server.cfg.reuse_port:
        # gunicorn's own "Listening at:" names no address then: the master holds no socket.
        addresses = ", ".join(server.cfg.bind)
        server.log.info("Each worker listens on a socket of its own at %s (reuse_port)", addresses)
    else:
        server.log.info("The workers share one listening socket")

    if not settings.secret_key:
        # Made here, before the workers fork, so that every worker shares it.
        generate_secret_key()
        server.log.warning(GENERATED_SECRET_KEY_WARNING)

    if settings.migrate_on_start:
        from {{ cookiecutter.package_name }}.core.db import upgrade_database

        server.log.info("Applying database migrations")
        upgrade_database(settings.database_url)
{%- if cookiecutter.use_auth %}

    if settings.admin_username and settings.admin_password:
        from {{ cookiecutter.package_name }}.core.config import export_setting
        from {{ cookiecutter.package_name }}.services.users import bootstrap_admin

        server.log.info("Ensuring the admin user %s", settings.admin_username)
        bootstrap_admin(settings.database_url, settings.admin_username, settings.admin_password)
        # Done for every worker: they need neither repeat it nor hold the password.
        export_setting("ADMIN_PASSWORD", "")
{%- endif %}


def child_exit(server, worker) -> None:
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(worker.pid)
{%- if cookiecutter.use_websockets %}


def when_ready(server) -> None:
    """Say so at start when WebSocket rooms will not reach across the worker processes."""
{%- if cookiecutter.use_celery %}
    if workers > 1 and not settings.redis_url:
{%- else %}
    if workers > 1:
{%- endif %}
        server.log.warning(
            "WebSocket rooms reach one worker process only: %d workers and no REDIS_URL",
            workers,
        )
{%- endif %}
