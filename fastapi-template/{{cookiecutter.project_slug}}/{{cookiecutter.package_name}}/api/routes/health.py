"""Liveness, readiness and Prometheus metrics."""

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Literal

from fastapi import APIRouter, Response
from fastapi.responses import JSONResponse, PlainTextResponse
from pydantic import BaseModel
from sqlalchemy import text
from starlette.requests import Request

from {{ cookiecutter.package_name }}.core.metrics import render_metrics

router = APIRouter(tags=["operations"])
logger = logging.getLogger(__name__)

CHECK_TIMEOUT_SECONDS = 2.0

CheckResult = Literal["ok", "fail", "disabled"]


class Health(BaseModel):
    status: Literal["ok"]


class ReadinessChecks(BaseModel):
    database: Literal["ok", "fail"]
    redis: CheckResult
    model: CheckResult


class Readiness(BaseModel):
    status: Literal["ok", "fail"]
    checks: ReadinessChecks
{%- if cookiecutter.use_websockets %}
    # "local": WebSocket rooms reach this process only; "redis": they span every process
    realtime: Literal["local", "redis"]
{%- endif %}


HEALTHY = b'{"status":"ok"}'


@router.get("/health", response_model=Health)
async def health() -> Response:
    # Probes call this on every replica several times a second, and the answer never
    # changes: it is sent as it is, without validating and encoding a model each time
    # (response_model still documents it).
    return Response(HEALTHY, media_type="application/json")


async def check_database(request: Request) -> CheckResult:
    async with request.app.state.session_factory() as session:
        await session.execute(text("SELECT 1"))
    return "ok"


async def check_redis(request: Request) -> CheckResult:
    redis = getattr(request.app.state, "redis", None)
    if redis is None:
        return "disabled"
    await redis.ping()
    return "ok"


async def check_model(request: Request) -> CheckResult:
    # The model is loaded at start-up; a process that could not load it never starts.
    return "ok" if getattr(request.app.state, "model", None) is not None else "disabled"


async def run_check(
    name: str, check: Callable[[Request], Awaitable[CheckResult]], request: Request
) -> CheckResult:
    try:
        return await asyncio.wait_for(check(request), CHECK_TIMEOUT_SECONDS)
    except Exception as exc:  # any failure at all means "not ready"
        logger.warning("Readiness check %s failed: %s", name, exc)
        return "fail"


@router.get(
    "/ready",
    response_model=Readiness,
    responses={503: {"model": Readiness, "description": "A dependency is down"}},
)
async def ready(request: Request) -> JSONResponse:
    checks = {"database": check_database, "redis": check_redis, "model": check_model}
    results = await asyncio.gather(
        *(run_check(name, check, request) for name, check in checks.items())
    )
    outcome = dict(zip(checks, results, strict=True))
    healthy = "fail" not in outcome.values()
    return JSONResponse(
{%- if cookiecutter.use_websockets %}
        {
            "status": "ok" if healthy else "fail",
            "checks": outcome,
            "realtime": request.app.state.hub.scope,
        },
{%- else %}
        {"status": "ok" if healthy else "fail", "checks": outcome},
{%- endif %}
        status_code=200 if healthy else 503,
    )


@router.get("/metrics", response_class=PlainTextResponse)
async def metrics() -> Response:
    body, content_type = render_metrics()
    return Response(body, media_type=content_type)
