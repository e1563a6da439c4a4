"""gunicorn settings: `gunicorn -c gunicorn.conf.py`.

gthread workers: each worker process serves up to GUNICORN_THREADS requests at once.
{%- if cookiecutter.use_websockets %}
An open WebSocket holds one of those threads for as long as it stays open.
{%- endif %}
Unsafe production settings stop the master before it starts anything (one line on stderr).
Pending database migrations run once, in the master, before any worker starts{% if cookiecutter.use_auth %}; so does
the admin user's set-up{% endif %}.
{%- if cookiecutter.use_websockets %}
On SIGTERM a worker closes its WebSockets (1001), finishes its other requests and exits.
{%- endif %}
"""

import gc
import os
{%- if cookiecutter.use_websockets %}
import signal
{%- endif %}
import tempfile
{%- if cookiecutter.use_websockets %}
import threading
{%- endif %}
from pathlib import Path

from gunicorn.glogging import Logger
from gunicorn.workers.gthread import ThreadWorker

from {{ cookiecutter.package_name }}.core.config import (
    ensure_secret_key,
    exit_if_unsafe_for_production,
    load_settings,
)
from {{ cookiecutter.package_name }}.core.request_head import limit_request_heads

settings = load_settings()
exit_if_unsafe_for_production(settings)
# A request head over 16 KiB is refused with 431 while it arrives.
limit_request_heads()

# Prometheus' multiprocess mode must be chosen before prometheus_client is imported
# anywhere, and before the workers fork: every process then writes its samples to files
# in this directory and /metrics adds them up.
metrics_dir = Path(
    os.environ.get("PROMETHEUS_MULTIPROC_DIR") or tempfile.mkdtemp(prefix="prometheus-")
)
os.environ["PROMETHEUS_MULTIPROC_DIR"] = str(metrics_dir)

{% if cookiecutter.use_auth -%}
# The master sets up the admin user (on_starting): the workers need not do it again.
wsgi_app = "{{ cookiecutter.package_name }}.main:create_app(bootstrap_admin=False)"
{% else -%}
wsgi_app = "{{ cookiecutter.package_name }}.main:create_app()"
{% endif %}

class StoppingThreadWorker(ThreadWorker):
    """gunicorn's gthread worker, stopping (SIGTERM, and so on every reload) without a reset.

    A stopping worker finishes the connections it holds, answering a request already on its
    way with "Connection: close", until none is left.
    """

    def set_accept_enabled(self, enabled):
        super().set_accept_enabled(enabled)
        if not enabled and not self.alive:
            # gthread stops accepting at once but would keep the socket open while it
            # finishes: a connection the kernel accepts meanwhile waits in the backlog, to be
            # reset when the last worker closes it. Closed now, the socket refuses it, or
            # leaves it to the workers still listening (a reload).
            for listener in self.sockets:
                listener.close()

    def finish_request(self, *args):  # (conn, future); older gunicorn passes the future alone
        open_before = self.nr_conns
        super().finish_request(*args)
        # gthread counts a connection as gone twice when closing it fails, as it does once
        # the application has closed the socket itself (a WebSocket that ended). Counting
        # too few, a stopping worker would think itself done and cut the connections it
        # still holds.
        self.nr_conns = max(self.nr_conns, open_before - 1)


def kernel_moves_queued_connections():
    """Whether a listening socket that closes hands the connections queued on it to another
    socket of its port instead of resetting them: net.ipv4.tcp_migrate_req=1 (Linux 5.14+,
    set per network namespace)."""
    try:
        return Path("/proc/sys/net/ipv4/tcp_migrate_req").read_text().strip() == "1"
    except OSError:
        return False


class WithoutAccessLines(Logger):
    """gunicorn's logger, writing no access lines: the application writes its own.

    With logconfig_dict set, gunicorn counts access logging as on, and builds each request's
    access fields (a timestamp among them) only for a logger with no handler to drop them:
    without that, one worker served /health 2,662 -> 3,043 and the cached read 1,792 ->
    2,017 requests/s.
    """

    def access(self, resp, req, environ, request_time):
        pass


bind = settings["BIND"]
workers = settings["WEB_CONCURRENCY"]
# Each worker listens on a socket of its own (SO_REUSEPORT) and the kernel spreads new
# connections over them, rather than the first worker to wake taking every connection that
# waits. Only where the kernel moves a stopping worker's queued connections to the others:
# without that, every reload and stop would reset them.
reuse_port = kernel_moves_queued_connections() and not bind.startswith(("unix:", "fd://"))
worker_class = StoppingThreadWorker
threads = settings["GUNICORN_THREADS"]
# How long a stopping worker may take to finish its requests before it is killed.
graceful_timeout = 20
# The application logs one JSON access line per request itself.
accesslog = None
logger_class = WithoutAccessLines
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
    """In the master, once, before the workers fork.

    The secret key (made up in development, when unset, so that every worker inherits the
    same one), old metric files, migrations{% if cookiecutter.use_auth %}, the admin user{% endif %}.
    """
    ensure_secret_key(settings)
    if server.cfg.reuse_port:
        # gunicorn's own "Listening at:" names no address then: the master holds no socket.
        addresses = ", ".join(server.cfg.bind)
        server.log.info("Each worker listens on a socket of its own at %s (reuse_port)", addresses)
    else:
        server.log.info("The workers share one listening socket")
    metrics_dir.mkdir(parents=True, exist_ok=True)
    for stale in metrics_dir.glob("*.db"):
        stale.unlink()
    if settings["MIGRATE_ON_START"]:
        from {{ cookiecutter.package_name }}.core.db import upgrade_database

        upgrade_database()
{%- if cookiecutter.use_auth %}
    if settings["ADMIN_USERNAME"] and settings["ADMIN_PASSWORD"]:
        from {{ cookiecutter.package_name }}.core.db import standalone_app
        from {{ cookiecutter.package_name }}.services.users import ensure_admin_at_start

        ensure_admin_at_start(standalone_app())
{%- endif %}


def child_exit(server, worker):
    """A worker is gone: fold its live gauges away so /metrics stays correct."""
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(worker.pid)
{%- if cookiecutter.use_websockets %}


def when_ready(server):
    """Say so at start when WebSocket rooms will not reach across the worker processes."""
{%- if cookiecutter.use_celery %}
    if workers > 1 and not settings["REDIS_URL"]:
{%- else %}
    if workers > 1:
{%- endif %}
        server.log.warning(
            "WebSocket rooms reach one worker process only: %d workers and no REDIS_URL",
            workers,
        )
{%- endif %}


def post_worker_init(worker):
    """Runs in each worker once it has loaded the application."""
    freeze_loaded_objects()
{%- if cookiecutter.use_websockets %}
    close_websockets_on_stop(worker)
{%- endif %}


def freeze_loaded_objects():
    """What exists now (modules, the app, its routes and schemas, pools) lives as long as the
    worker. Frozen, the cyclic garbage collector stops walking all of it on each of its
    collections (one worker: cached item read 1,699 -> 1,747 requests/s, p99 84-141 ->
    67-93 ms; FastAPI, with far more collections, gains 30%)."""
    gc.collect()
    gc.freeze()
{%- if cookiecutter.use_websockets %}


def close_websockets_on_stop(worker):
    """Close the worker's WebSockets as soon as it is told to stop.

    They never finish on their own: left open, they would keep the worker alive until
    graceful_timeout and get it killed. The closing runs in a thread of its own, not in
    the signal handler, which only interrupts the worker's main loop.
    """
    from {{ cookiecutter.package_name }}.api.routes.ws import close_websockets

    stop_gracefully = worker.handle_exit

    def handle_term(signum, frame):
        stop_gracefully(signum, frame)
        threading.Thread(target=close_websockets, args=(worker.wsgi,), name="ws-close").start()

    signal.signal(signal.SIGTERM, handle_term)
{%- endif %}
{%- if cookiecutter.use_celery and cookiecutter.use_websockets %}


def worker_exit(server, worker):
    """Stop the worker's Redis pub/sub listener before the interpreter shuts down."""
    app = getattr(worker, "wsgi", None)  # None when the application failed to load
    if app is not None:
        app.extensions["realtime"].close()
{%- endif %}
