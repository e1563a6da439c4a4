"""The HTTP and WebSocket routes, gathered into one router."""

from fastapi import APIRouter

from {{ cookiecutter.package_name }}.api.routes import (
    docs,
    health,
    items,
{%- if cookiecutter.use_ml %}
    jobs,
    ml,
{%- endif %}
{%- if cookiecutter.use_websockets %}
    ws,
{%- endif %}
)

api_router = APIRouter()
api_router.include_router(items.router)
{%- if cookiecutter.use_ml %}
api_router.include_router(ml.router)
api_router.include_router(jobs.router)
{%- endif %}
{%- if cookiecutter.use_websockets %}
api_router.include_router(ws.router)
{%- endif %}
api_router.include_router(health.router)
api_router.include_router(docs.router)
