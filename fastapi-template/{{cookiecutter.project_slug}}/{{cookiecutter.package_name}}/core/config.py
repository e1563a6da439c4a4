"""Settings read from the environment (and from a `.env` file, if there is one)."""

import os
import secrets
from functools import lru_cache
from typing import Literal

{% if cookiecutter.use_auth -%}
from limits import parse
from pydantic import field_validator
{% endif -%}
from pydantic_settings import BaseSettings, SettingsConfigDict

# The placeholder .env.example ships with: fine on a laptop, refused in production.
EXAMPLE_SECRET_KEY = "change-me-to-a-random-string-of-at-least-32-characters"
MIN_SECRET_KEY_LENGTH = 32
{%- if cookiecutter.use_auth %}
MIN_ADMIN_PASSWORD_LENGTH = 12
{%- endif %}
GENERATED_SECRET_KEY_WARNING = (
    "SECRET_KEY is not set: using a random key generated for this run, "
    "which the next start replaces; set SECRET_KEY to keep it"
)


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_file=".env", extra="ignore")

    environment: Literal["development", "production"] = "development"
    secret_key: str = ""
    database_url: str = "sqlite:///./app.db"
    migrate_on_start: bool = True
    bind: str = "0.0.0.0:8000"
    web_concurrency: int = 2
{%- if cookiecutter.use_celery %}
    redis_url: str = ""
{%- endif %}
{%- if cookiecutter.use_celery and cookiecutter.use_ml %}
    celery_broker_url: str = ""
    celery_result_backend: str = ""
{%- endif %}
    max_body_bytes: int = 1_048_576
{%- if cookiecutter.use_websockets %}
    ws_max_message_bytes: int = 1_048_576
{%- endif %}
    cors_origins: str = ""
    docs_enabled: bool = True
    hsts_seconds: int = 0
    log_level: str = "INFO"
{%- if cookiecutter.use_celery %}
    cache_ttl_seconds: int = 60
{%- endif %}
{%- if cookiecutter.use_ml %}
    ml_batching: bool = False
    ml_batch_max_rows: int = 64
    ml_batch_wait_ms: float = 2.0
{%- endif %}
{%- if cookiecutter.use_auth %}
    access_token_minutes: int = 30
    admin_username: str = ""
    admin_password: str = ""
    login_rate_limit: str = "5/minute"

    @field_validator("login_rate_limit")
    @classmethod
    def check_rate_limit(cls, value: str) -> str:
        parse(value)  # raises ValueError for anything but "<count>/<period>", e.g. "5/minute"
        return value
{%- endif %}

    @property
    def cors_origin_list(self) -> list[str]:
        return [origin.strip() for origin in self.cors_origins.split(",") if origin.strip()]
{%- if cookiecutter.use_celery and cookiecutter.use_ml %}

    @property
    def celery_backend_url(self) -> str:
        return self.celery_result_backend or self.celery_broker_url
{%- endif %}


@lru_cache
def get_settings() -> Settings:
    return Settings()


def production_problems(settings: Settings) -> list[str]:
    """Why these settings are unsafe to run in production; empty when they are not."""
    if settings.environment != "production":
        return []
    problems = []
    if not settings.secret_key:
        problems.append("SECRET_KEY is not set")
    elif settings.secret_key == EXAMPLE_SECRET_KEY:
        problems.append("SECRET_KEY is the example value from .env.example")
    elif len(settings.secret_key) < MIN_SECRET_KEY_LENGTH:
        problems.append(f"SECRET_KEY is shorter than {MIN_SECRET_KEY_LENGTH} characters")
    if "*" in settings.cors_origin_list:
        problems.append("CORS_ORIGINS is '*', which lets every web site call the API")
{%- if cookiecutter.use_auth %}
    if settings.admin_password and len(settings.admin_password) < MIN_ADMIN_PASSWORD_LENGTH:
        problems.append(f"ADMIN_PASSWORD is shorter than {MIN_ADMIN_PASSWORD_LENGTH} characters")
{%- endif %}
    return problems


def exit_if_unsafe_for_production(settings: Settings) -> None:
    """Exit with status 1 and a one-line reason on stderr if production settings are unsafe."""
    problems = production_problems(settings)
    if problems:
        raise SystemExit(f"Refusing to start in production: {'; '.join(problems)}")


def export_setting(name: str, value: str) -> None:
    """Put a setting into the environment, where this process and those it forks read it."""
    os.environ[name] = value
    get_settings.cache_clear()


def generate_secret_key() -> str:
    """A random SECRET_KEY for a development run, shared with the processes forked from here."""
    key = secrets.token_urlsafe(32)
    export_setting("SECRET_KEY", key)
    return key
