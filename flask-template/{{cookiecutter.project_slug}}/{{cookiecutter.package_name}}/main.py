"""The application factory: `create_app()` builds and wires the Flask app."""

from collections.abc import Mapping
from typing import Any

{% if cookiecutter.use_celery and cookiecutter.use_ml -%}
from celery import Celery, Task
{% endif -%}
from flask import Flask
from flask_cors import CORS

from .api import init_api
{%- if cookiecutter.use_auth %}
from .commands import init_commands
{%- endif %}
{%- if cookiecutter.use_celery %}
from .core.cache import item_cache
{%- endif %}
from .core.config import (
    ensure_secret_key,
    exit_if_unsafe_for_production,
    flask_config,
    load_settings,
)
from .core.db import init_db
from .core.errors import register_error_handlers
from .core.logging import init_request_logging
from .core.methods import Service
from .core.metrics import init_metrics
{%- if cookiecutter.use_websockets %}
from .core.realtime import init_realtime
{%- endif %}
from .core.security import init_security_headers
from .core.sessions import NoSessions
{%- if cookiecutter.use_auth %}
from .core.throttle import init_login_throttle
{%- endif %}
from .core.tracing import create_tracer_provider, init_tracing, tracing_enabled
{%- if cookiecutter.use_auth %}
from .services.users import ensure_admin_at_start
{%- endif %}

# Exposed headers are the ones a browser client needs to read from our responses.
cors = CORS(expose_headers=["ETag", "Location", "X-Request-ID"])
{%- if cookiecutter.use_celery and cookiecutter.use_ml %}


def celery_init_app(app: Flask) -> "Celery[Any]":
    """Flask's Celery pattern: every task runs inside an app context of this app."""

    class FlaskTask(Task):  # type: ignore[type-arg]  # not subscriptable at run time
        def __call__(self, *args: object, **kwargs: object) -> object:
            with app.app_context():
                return self.run(*args, **kwargs)

    celery_app = Celery(app.name, task_cls=FlaskTask)
    celery_app.config_from_object(app.config["CELERY"])
    celery_app.set_default()
    app.extensions["celery"] = celery_app
    return celery_app
{%- endif %}

{% if cookiecutter.use_auth %}
def create_app(
    config_overrides: Mapping[str, Any] | None = None, *, bootstrap_admin: bool = True
) -> Flask:
    """Build the app from the environment; `config_overrides` wins over it (tests use it).

    gunicorn's master creates or resets the admin user itself, once, and passes
    `bootstrap_admin=False`; any other way of starting the app does it here.
    """
{%- else %}
def create_app(config_overrides: Mapping[str, Any] | None = None) -> Flask:
    """Build the app from the environment; `config_overrides` wins over it (tests use it)."""
{%- endif %}
    settings = load_settings()
    settings.update(config_overrides or {})
    exit_if_unsafe_for_production(settings)

    app = Service(__name__)
    app.config.from_mapping(settings)
    app.config.from_mapping(flask_config(settings))
    # Keep fields in the order the schemas declare them. `sort_keys` belongs to Flask's default
    # provider, which is what app.json is; its declared type is the base class.
    app.json.sort_keys = False  # type: ignore[attr-defined]

    app.session_interface = NoSessions()
    init_request_logging(app)  # first: everything after it logs with the request id
    ensure_secret_key(app.config)  # unless gunicorn's master already made one
    init_metrics(app)
    init_security_headers(app)
    init_db(app)
    init_api(app)
    register_error_handlers(app)
{%- if cookiecutter.use_celery %}
    item_cache.init_app(app)
{%- endif %}
{%- if cookiecutter.use_websockets %}
    init_realtime(app)
{%- endif %}
{%- if cookiecutter.use_celery and cookiecutter.use_ml %}
    celery_init_app(app)
{%- endif %}
{%- if cookiecutter.use_auth %}
    init_login_throttle(app)
    init_commands(app)
    if bootstrap_admin:
        ensure_admin_at_start(app)
{%- endif %}
    if app.config["CORS_ORIGINS"]:
        cors.init_app(app, origins=app.config["CORS_ORIGINS"])
    if tracing_enabled():
        init_tracing(app, create_tracer_provider())
    return app
