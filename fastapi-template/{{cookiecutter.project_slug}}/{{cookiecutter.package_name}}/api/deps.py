"""Dependencies the routes declare through `Annotated` aliases.

Every dependency is `async def`, even those that only read `app.state`: FastAPI runs a
plain `def` dependency in the thread pool, a thread hop per dependency per request.
"""

from collections.abc import AsyncIterator
from typing import Annotated, cast

from fastapi import Depends, Request
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from starlette.requests import HTTPConnection

from {{ cookiecutter.package_name }}.core.config import Settings
from {{ cookiecutter.package_name }}.core.errors import ProblemError
{%- if cookiecutter.use_websockets %}
from {{ cookiecutter.package_name }}.core.realtime import LocalHub
{%- endif %}
{%- if cookiecutter.use_ml %}
from {{ cookiecutter.package_name }}.ml.model import DigitsModel
{%- endif %}
from {{ cookiecutter.package_name }}.services.items import ItemService
{%- if cookiecutter.use_ml %}
from {{ cookiecutter.package_name }}.services.jobs import JobRunner
from {{ cookiecutter.package_name }}.services.predictions import MicroBatcher
{%- endif %}


async def get_app_settings(connection: HTTPConnection) -> Settings:
    return cast(Settings, connection.app.state.settings)


async def get_session_factory(connection: HTTPConnection) -> async_sessionmaker[AsyncSession]:
    return cast(async_sessionmaker[AsyncSession], connection.app.state.session_factory)


async def get_session(connection: HTTPConnection) -> AsyncIterator[AsyncSession]:
    async with connection.app.state.session_factory() as session:
        yield session


SettingsDep = Annotated[Settings, Depends(get_app_settings)]
SessionFactoryDep = Annotated[async_sessionmaker[AsyncSession], Depends(get_session_factory)]
SessionDep = Annotated[AsyncSession, Depends(get_session)]
{%- if cookiecutter.use_websockets %}


async def get_hub(connection: HTTPConnection) -> LocalHub:
    return cast(LocalHub, connection.app.state.hub)


HubDep = Annotated[LocalHub, Depends(get_hub)]
{%- endif %}


async def get_item_service(connection: HTTPConnection) -> AsyncIterator[ItemService]:
    state = connection.app.state
    service = ItemService(
        state.session_factory,
{%- if cookiecutter.use_celery %}
        cache=state.item_cache,
{%- endif %}
{%- if cookiecutter.use_websockets %}
        hub=state.hub,
{%- endif %}
    )
    try:
        yield service
    finally:
        await service.close()


ItemServiceDep = Annotated[ItemService, Depends(get_item_service)]
{%- if cookiecutter.use_ml %}


async def get_model(connection: HTTPConnection) -> DigitsModel:
    return cast(DigitsModel, connection.app.state.model)


async def get_batcher(connection: HTTPConnection) -> MicroBatcher | None:
    return cast(MicroBatcher | None, connection.app.state.batcher)


async def get_job_runner(connection: HTTPConnection) -> JobRunner:
    return cast(JobRunner, connection.app.state.job_runner)


ModelDep = Annotated[DigitsModel, Depends(get_model)]
BatcherDep = Annotated[MicroBatcher | None, Depends(get_batcher)]
JobRunnerDep = Annotated[JobRunner, Depends(get_job_runner)]
{%- endif %}


async def require_json(request: Request) -> None:
    """415 for a request body that is not declared as JSON (application/json or */*+json)."""
    if not await request.body():
        return
    content_type = request.headers.get("content-type", "")
    media_type = content_type.partition(";")[0].strip().lower()
    if media_type != "application/json" and not media_type.endswith("+json"):
        raise ProblemError(415, "Request body must be application/json")


JsonBody = Depends(require_json)
