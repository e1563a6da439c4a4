"""Settings read from the environment (and from a `.env` file, if there is one)."""

from functools import lru_cache

from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_file=".env", extra="ignore")

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
