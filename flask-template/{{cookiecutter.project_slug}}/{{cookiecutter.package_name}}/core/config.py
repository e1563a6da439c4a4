"""Settings read from the environment (and from a `.env` file, if there is one).

`load_settings()` returns the service's own settings under their documented names;
`flask_config()` translates them into the keys Flask and its extensions read.
`exit_if_unsafe_for_production()` and `ensure_secret_key()` run before anything starts.
"""

import logging
import os
import secrets
import sys
from collections.abc import Mapping, MutableMapping
from pathlib import Path
from typing import Any

from dotenv import dotenv_values
from sqlalchemy.engine import make_url

ENVIRONMENTS = ("development", "production")
# The value .env.example ships with: a real deployment must not keep it.
EXAMPLE_SECRET_KEY = "change-me-to-a-random-string-of-at-least-32-characters"
MIN_SECRET_KEY_LENGTH = 32
{%- if cookiecutter.use_auth %}
MIN_ADMIN_PASSWORD_LENGTH = 12
{%- endif %}

logger = logging.getLogger(__name__)


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
        "ENVIRONMENT": env.get("ENVIRONMENT", "development"),
        # Also Flask's own SECRET_KEY. Empty means unset.
        "SECRET_KEY": env.get("SECRET_KEY", ""),
{%- if cookiecutter.use_auth %}
        "ACCESS_TOKEN_MINUTES": int(env.get("ACCESS_TOKEN_MINUTES", "30")),
        "ADMIN_USERNAME": env.get("ADMIN_USERNAME", ""),
        "ADMIN_PASSWORD": env.get("ADMIN_PASSWORD", ""),
        "LOGIN_RATE_LIMIT": env.get("LOGIN_RATE_LIMIT", "5/minute"),
{%- endif %}
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
        # The share of a worker's threads that WebSockets may hold; the rest answer HTTP.
        "WS_THREAD_SHARE": float(env.get("WS_THREAD_SHARE", "0.75")),
{%- endif %}
    }


def production_problems(settings: Mapping[str, Any]) -> list[str]:
    """Why these settings must not start a production service; empty when nothing is wrong.

    Outside production only an unknown ENVIRONMENT is a problem.
    """
    environment = settings["ENVIRONMENT"]
    if environment not in ENVIRONMENTS:
        return [f"ENVIRONMENT is {environment!r}; use development or production"]
    if environment != "production":
        return []
    problems: list[str] = []
    secret_key = settings["SECRET_KEY"]
    if not secret_key:
        problems.append("SECRET_KEY is not set")
    elif secret_key == EXAMPLE_SECRET_KEY:
        problems.append("SECRET_KEY is the example value from .env.example")
    elif len(secret_key) < MIN_SECRET_KEY_LENGTH:
        problems.append(f"SECRET_KEY is shorter than {MIN_SECRET_KEY_LENGTH} characters")
    if "*" in settings["CORS_ORIGINS"]:
        problems.append("CORS_ORIGINS is *; list the allowed origins")
{%- if cookiecutter.use_auth %}
    admin_password = settings["ADMIN_PASSWORD"]
    if admin_password and len(admin_password) < MIN_ADMIN_PASSWORD_LENGTH:
        problems.append(f"ADMIN_PASSWORD is shorter than {MIN_ADMIN_PASSWORD_LENGTH} characters")
{%- endif %}
    return problems


def exit_if_unsafe_for_production(settings: Mapping[str, Any]) -> None:
    """Stop the process with one line on stderr (and exit status 1) if a problem is found.

    gunicorn.conf.py calls it before the master starts anything; the app factory again, for
    every other way of serving the app.
    """
    problems = production_problems(settings)
    if problems:
        sys.exit("Refusing to start: " + "; ".join(problems))


def ensure_secret_key(settings: MutableMapping[str, Any]) -> None:
    """In development, an unset SECRET_KEY is generated: random, and good until the restart.

    It also goes into the environment, so that gunicorn's workers, forked after the master
    made it, and every app created later in this process use the same one. (Production
    never gets here without a SECRET_KEY: `exit_if_unsafe_for_production` stops it first.)
    """
    if settings["SECRET_KEY"]:
        return
    settings["SECRET_KEY"] = os.environ["SECRET_KEY"] = secrets.token_urlsafe(32)
    logger.warning("SECRET_KEY is not set: using a random one until the service restarts")


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
