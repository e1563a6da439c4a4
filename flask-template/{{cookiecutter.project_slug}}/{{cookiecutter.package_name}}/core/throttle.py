"""Login throttling: failed logins per (username, client address), counted with `limits`.

After LOGIN_RATE_LIMIT failures (default `5/minute`) within the moving window, further
attempts for that username from that address are refused until the oldest failure leaves
the window. Successful logins are not counted.
{%- if cookiecutter.use_celery %}

With `REDIS_URL` set, failures are counted in Redis (keys `login:...`), so every worker
process sees the same count; otherwise each process counts its own, in memory. Should
Redis fail, logins go on unthrottled, with a warning in the log, rather than nobody
being able to log in.
{%- else %} Each process counts its own failures,
in memory.
{%- endif %}
"""

{% if cookiecutter.use_celery -%}
import logging
{% endif -%}
import math
import time

from flask import Flask, current_app
from limits import parse
{%- if cookiecutter.use_celery %}
from limits.errors import StorageError
from limits.storage import MemoryStorage, RedisStorage, Storage
{%- else %}
from limits.storage import MemoryStorage, Storage
{%- endif %}
from limits.strategies import MovingWindowRateLimiter
{%- if cookiecutter.use_celery %}

logger = logging.getLogger(__name__)

# Fail fast, as the item cache does: a slow Redis must not hold up logins.
REDIS_TIMEOUT_SECONDS = 0.5
{%- endif %}


class LoginThrottle:
    """A Flask extension; the throttle lives in `app.extensions["login_throttle"]`."""

    def __init__(self, rate: str, storage: Storage) -> None:
        self.limit = parse(rate)
        self.limiter = MovingWindowRateLimiter(storage)
{%- if cookiecutter.use_celery %}

    def retry_after(self, username: str, address: str) -> int:
        """Whole seconds until this username may try again from this address; 0: now."""
        try:
            if self.limiter.test(self.limit, username, address):
                return 0
            reset_at, _ = self.limiter.get_window_stats(self.limit, username, address)
        except StorageError as error:
            logger.warning("Login throttle unavailable, not throttling: %s", error.storage_error)
            return 0
        return max(1, math.ceil(reset_at - time.time()))

    def record_failure(self, username: str, address: str) -> None:
        try:
            self.limiter.hit(self.limit, username, address)
        except StorageError as error:
            logger.warning("Login throttle unavailable, not counting: %s", error.storage_error)


def redis_storage(url: str) -> RedisStorage:
    return RedisStorage(
        url,
        key_prefix="login",
        wrap_exceptions=True,
        socket_timeout=REDIS_TIMEOUT_SECONDS,
        socket_connect_timeout=REDIS_TIMEOUT_SECONDS,
    )


def init_login_throttle(app: Flask) -> None:
    url = app.config["REDIS_URL"]
    storage = redis_storage(url) if url else MemoryStorage()
    app.extensions["login_throttle"] = LoginThrottle(app.config["LOGIN_RATE_LIMIT"], storage)
{%- else %}

    def retry_after(self, username: str, address: str) -> int:
        """Whole seconds until this username may try again from this address; 0: now."""
        if self.limiter.test(self.limit, username, address):
            return 0
        reset_at, _ = self.limiter.get_window_stats(self.limit, username, address)
        return max(1, math.ceil(reset_at - time.time()))

    def record_failure(self, username: str, address: str) -> None:
        self.limiter.hit(self.limit, username, address)


def init_login_throttle(app: Flask) -> None:
    storage = MemoryStorage()
    app.extensions["login_throttle"] = LoginThrottle(app.config["LOGIN_RATE_LIMIT"], storage)
{%- endif %}


def current_throttle() -> LoginThrottle:
    throttle: LoginThrottle = current_app.extensions["login_throttle"]
    return throttle
