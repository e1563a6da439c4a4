"""Settings read from the environment (and from a `.env` file, if there is one).

`load_settings()` returns the service's own settings under their documented names;
`flask_config()` translates them into the keys Flask and its extensions read.
"""

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from dotenv import dotenv_values
from sqlalchemy.engine import make_url


def _as_bool(value: str) -> bool:
    return value.strip().lower() in ("1", "true", "yes", "on")


def _as_list(value: str) -> list[str]:
    return [part.strip() for part in value.split(",") if part.strip()]


def load_settings(environ: Mapping[str, str] | None = None) -> dict[str, Any]:
    """Read every setting, with its default. Real environment variables beat `.env`."""
    if environ is None:
        environ = {
            key: value for key, value in dotenv_values(".env").items() if value is not None
        } | dict(os.environ)
    env = {key: value for key, value in environ.items() if value is not None}
    return {
        "DATABASE_URL": env.get("DATABASE_URL", "sqlite:///./app.db"),
        "MAX_BODY_BYTES": int(env.get("MAX_BODY_BYTES", "1048576")),
        "CORS_ORIGINS": _as_list(env.get("CORS_ORIGINS", "")),
        "DOCS_ENABLED": _as_bool(env.get("DOCS_ENABLED", "1")),
        "HSTS_SECONDS": int(env.get("HSTS_SECONDS", "0")),
        "LOG_LEVEL": env.get("LOG_LEVEL", "INFO").upper(),
{%- if cookiecutter.use_celery %}
        "REDIS_URL": env.get("REDIS_URL", ""),
        "CACHE_TTL_SECONDS": int(env.get("CACHE_TTL_SECONDS", "60")),
{%- endif %}
{%- if cookiecutter.use_celery and cookiecutter.use_ml %}
        "CELERY_BROKER_URL": env.get("CELERY_BROKER_URL", ""),
        "CELERY_RESULT_BACKEND": env.get("CELERY_RESULT_BACKEND", ""),
{%- endif %}
        "MIGRATE_ON_START": _as_bool(env.get("MIGRATE_ON_START", "1")),
        # Read by gunicorn.conf.py.
        "BIND": env.get("BIND", "0.0.0.0:8000"),
        "WEB_CONCURRENCY": int(env.get("WEB_CONCURRENCY", "2")),
{%- if cookiecutter.use_websockets %}
        # Each open WebSocket holds a thread for its lifetime.
{%- endif %}
        "GUNICORN_THREADS": int(env.get("GUNICORN_THREADS", "{{ "256" if cookiecutter.use_websockets else "64" }}")),
{%- if cookiecutter.use_websockets %}
        "WS_MAX_MESSAGE_BYTES": int(env.get("WS_MAX_MESSAGE_BYTES", "1048576")),
{%- endif %}
    }


def sqlalchemy_url(database_url: str) -> str:
    """Pick the driver for a plain database URL.

    `postgresql://` (or Heroku-style `postgres://`) gets psycopg 3. A relative SQLite path
    is made absolute against the working directory, where Flask-SQLAlchemy would otherwise
    put it under the instance folder.
    """
    if database_url.startswith(("postgresql://", "postgres://")):
        return "postgresql+psycopg://" + database_url.split("://", 1)[1]
    url = make_url(database_url)
    if url.get_backend_name() == "sqlite" and url.database not in (None, "", ":memory:"):
        path = Path(url.database)
        if not path.is_absolute():
            return url.set(database=str(Path.cwd() / path)).render_as_string(hide_password=False)
    return database_url


def flask_config(settings: Mapping[str, Any]) -> dict[str, Any]:
    """The Flask and extension configuration keys derived from the settings."""
    config: dict[str, Any] = {
        "SQLALCHEMY_DATABASE_URI": sqlalchemy_url(settings["DATABASE_URL"]),
        "MAX_CONTENT_LENGTH": settings["MAX_BODY_BYTES"],
{%- if cookiecutter.use_websockets %}
        # Pings notice peers that vanished without closing, so their threads are freed; a
        # message over the limit closes the connection with 1009 before it is buffered whole.
        "SOCK_SERVER_OPTIONS": {
            "ping_interval": 25,
            "max_message_size": settings["WS_MAX_MESSAGE_BYTES"],
        },
{%- endif %}
    }
{%- if cookiecutter.use_celery and cookiecutter.use_ml %}
    broker_url = settings["CELERY_BROKER_URL"]
    config["CELERY"] = {
        "broker_url": broker_url or None,
        # Task outcomes are kept a day; the jobs table remains what the API answers from.
        "result_backend": settings["CELERY_RESULT_BACKEND"] or broker_url or None,
        "result_expires": 24 * 60 * 60,
        "broker_connection_retry_on_startup": True,
    }
{%- endif %}
    return config
