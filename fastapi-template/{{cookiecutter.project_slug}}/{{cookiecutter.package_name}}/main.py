"""The application factory: settings, middleware, error handlers, routes and lifespan."""

import gc
import logging
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from pathlib import Path

from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware
from fastapi.staticfiles import StaticFiles
{%- if cookiecutter.use_celery and cookiecutter.use_websockets %}
from redis.asyncio import Redis
{%- endif %}

from {{ cookiecutter.package_name }}.api import operations, routers
from {{ cookiecutter.package_name }}.api.routes import docs
{%- if cookiecutter.use_ml %}
from {{ cookiecutter.package_name }}.api.routes.jobs import JOB_BODY_LIMIT_FACTOR, PREDICTION_JOBS_PATH
{%- endif %}
{%- if cookiecutter.use_celery %}
from {{ cookiecutter.package_name }}.core.cache import ItemCache, create_redis
{%- endif %}
from {{ cookiecutter.package_name }}.core.config import (
    GENERATED_SECRET_KEY_WARNING,
    Settings,
    exit_if_unsafe_for_production,
    generate_secret_key,
    get_settings,
)
from {{ cookiecutter.package_name }}.core.db import create_database_engine, create_session_factory
from {{ cookiecutter.package_name }}.core.errors import (
    BodyLimitMiddleware,
    register_error_handlers,
    use_problem_schema,
    websocket_not_found,
)
from {{ cookiecutter.package_name }}.core.logging import RequestLoggingMiddleware, configure_logging
from {{ cookiecutter.package_name }}.core.methods import AutomaticMethodsMiddleware
from {{ cookiecutter.package_name }}.core.metrics import MetricsMiddleware
{%- if cookiecutter.use_websockets and cookiecutter.use_celery %}
from {{ cookiecutter.package_name }}.core.realtime import LocalHub, RedisHub
{%- elif cookiecutter.use_websockets %}
from {{ cookiecutter.package_name }}.core.realtime import LocalHub
{%- endif %}
from {{ cookiecutter.package_name }}.core.security import SecurityHeadersMiddleware
{%- if cookiecutter.use_auth %}
from {{ cookiecutter.package_name }}.core.throttle import LoginThrottle
{%- endif %}
from {{ cookiecutter.package_name }}.core.tracing import create_tracer_provider, instrument_app, traced, tracing_enabled
{%- if cookiecutter.use_ml %}
from {{ cookiecutter.package_name }}.ml.model import load_model
from {{ cookiecutter.package_name }}.services.jobs import JobRunner
from {{ cookiecutter.package_name }}.services.predictions import MicroBatcher
{%- endif %}
{%- if cookiecutter.use_auth %}
from {{ cookiecutter.package_name }}.services.users import ensure_admin
{%- endif %}

logger = logging.getLogger(__name__)

STATIC_DIR = Path(__file__).resolve().parent / "static"
# Allocations (less deallocations) between two young collections; Python's default is 700.
YOUNG_COLLECTION_THRESHOLD = 10_000
{%- if cookiecutter.use_auth %}
CORS_EXPOSED_HEADERS = ["ETag", "Location", "Retry-After", "WWW-Authenticate", "X-Request-ID"]
{%- else %}
CORS_EXPOSED_HEADERS = ["ETag", "Location", "X-Request-ID"]
{%- endif %}


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    """Open this worker process's resources on start-up and release them on shutdown."""
    settings: Settings = app.state.settings
    async with AsyncExitStack() as stack:
        engine = create_database_engine(settings.database_url)
        stack.push_async_callback(engine.dispose)
        if app.state.tracer_provider is not None:
            stack.enter_context(traced(engine.sync_engine, app.state.tracer_provider))
        app.state.session_factory = create_session_factory(engine)
{%- if cookiecutter.use_celery %}

        app.state.redis = app.state.item_cache = None
        if settings.redis_url:
            app.state.redis = create_redis(settings.redis_url)
            stack.push_async_callback(app.state.redis.aclose)
            app.state.item_cache = ItemCache(app.state.redis, settings.cache_ttl_seconds)
{%- endif %}
{%- if cookiecutter.use_websockets %}

{%- if cookiecutter.use_celery %}
        if settings.redis_url:
            # Its own client: the pub/sub connection blocks on reads, unlike the cache's.
            pubsub_redis = Redis.from_url(settings.redis_url, socket_connect_timeout=0.5)
            stack.push_async_callback(pubsub_redis.aclose)
            app.state.hub = RedisHub(pubsub_redis)
        else:
            app.state.hub = LocalHub()
{%- else %}
        app.state.hub = LocalHub()
{%- endif %}
        await app.state.hub.start()
        stack.push_async_callback(app.state.hub.stop)
{%- endif %}
{%- if cookiecutter.use_ml %}

        app.state.model = load_model()
        app.state.batcher = None
        if settings.ml_batching:
            app.state.batcher = MicroBatcher(
                app.state.model, settings.ml_batch_max_rows, settings.ml_batch_wait_ms
            )
            stack.push_async_callback(app.state.batcher.stop)
        app.state.job_runner = JobRunner(settings)
        stack.callback(app.state.job_runner.shutdown)
{%- endif %}
{%- if cookiecutter.use_auth %}

        app.state.login_throttle = LoginThrottle(settings.login_rate_limit{% if cookiecutter.use_celery %}, app.state.redis{% endif %})
        # Under gunicorn the master has done this before forking, and cleared ADMIN_PASSWORD
        # for its workers (gunicorn.conf.py).
        if settings.admin_username and settings.admin_password:
            async with app.state.session_factory() as session:
                await ensure_admin(session, settings.admin_username, settings.admin_password)
{%- endif %}

        # What exists now (modules, routes, schemas, pools: some 145,000 objects) lives as
        # long as the process. Frozen, the cyclic garbage collector stops walking all of it
        # on each of its collections; and each request's coroutines and dicts, freed by
        # reference counting, need not set off a young collection every 700 allocations.
        # One worker, cached item read: 2,026 -> 2,693 requests/s frozen; in another run,
        # 2,605 -> 3,026 with the threshold too. Unfrozen on shutdown, so that an app that
        # ends before its process (as in tests) can be collected; no gc.collect() first,
        # which in a test process, starting an app per test, doubled the suite's time.
        gc.freeze()
        stack.callback(gc.unfreeze)
        stack.callback(gc.set_threshold, *gc.get_threshold())
        gc.set_threshold(YOUNG_COLLECTION_THRESHOLD)
        yield


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()
    exit_if_unsafe_for_production(settings)
    configure_logging(settings.log_level)
    if not settings.secret_key:
        # No gunicorn master made one for this process (tests, uvicorn): make its own.
        settings = settings.model_copy(update={"secret_key": generate_secret_key()})
        logger.warning(GENERATED_SECRET_KEY_WARNING)

    app = FastAPI(
        title="{{ cookiecutter.project_name }}",
        description="{{ cookiecutter.description }}",
        version="0.1.0",
        lifespan=lifespan,
        # Served by api/routes/docs.py with local assets instead of a CDN.
        docs_url=None,
        redoc_url=None,
        openapi_url="/openapi.json" if settings.docs_enabled else None,
        # /api/v1/items/ is not /api/v1/items: a 404, as in the Flask template.
        redirect_slashes=False,
    )
    app.state.settings = settings
    app.state.tracer_provider = None
    register_error_handlers(app)
    use_problem_schema(app)
    # Added as they are rather than included: they take no dependencies (api/__init__.py).
    app.router.routes.extend(operations.routes)
    for router in routers:
        if router is not docs.router or settings.docs_enabled:
            app.include_router(router)
    # After every WebSocket route and before the mount, which would take any path under
    # /static: a handshake no route matches is refused with a 404 problem.
    app.add_api_websocket_route("/{path:path}", websocket_not_found)
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")

    # Pure ASGI middleware; the last one added is the outermost.
    app.add_middleware(AutomaticMethodsMiddleware, router=app.router)
    if settings.cors_origin_list:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=settings.cors_origin_list,
            allow_methods=["*"],
            allow_headers=["*"],
            expose_headers=CORS_EXPOSED_HEADERS,
        )
    app.add_middleware(
        BodyLimitMiddleware,
        max_bytes=settings.max_body_bytes,
{%- if cookiecutter.use_ml %}
        path_limits={PREDICTION_JOBS_PATH: JOB_BODY_LIMIT_FACTOR * settings.max_body_bytes},
{%- endif %}
    )
    app.add_middleware(MetricsMiddleware)
    app.add_middleware(RequestLoggingMiddleware)
    # Outermost, so that even the 500 problem RequestLoggingMiddleware sends carries them.
    app.add_middleware(SecurityHeadersMiddleware, hsts_seconds=settings.hsts_seconds)
    if tracing_enabled():
        instrument_app(app, create_tracer_provider())
    return app


app = create_app()
