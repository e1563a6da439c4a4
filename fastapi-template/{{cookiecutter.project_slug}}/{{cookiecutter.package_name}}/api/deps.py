"""Dependencies the routes declare through `Annotated` aliases.

Every dependency is `async def`, even those that only read `app.state`: FastAPI runs a
plain `def` dependency in the thread pool, a thread hop per dependency per request.
"""

from collections.abc import AsyncIterator
from typing import Annotated, cast

from fastapi import Depends, Request
{%- if cookiecutter.use_auth %}
from fastapi.security import OAuth2PasswordBearer
{%- endif %}
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from starlette.requests import HTTPConnection

{% if cookiecutter.use_auth -%}
from {{ cookiecutter.package_name }}.core.auth import user_id_from_token
{% endif -%}
from {{ cookiecutter.package_name }}.core.config import Settings
from {{ cookiecutter.package_name }}.core.db import close_session
from {{ cookiecutter.package_name }}.core.errors import ProblemError
{%- if cookiecutter.use_websockets %}
from {{ cookiecutter.package_name }}.core.realtime import LocalHub
{%- endif %}
{%- if cookiecutter.use_auth %}
from {{ cookiecutter.package_name }}.core.throttle import LoginThrottle
{%- endif %}
{%- if cookiecutter.use_ml %}
from {{ cookiecutter.package_name }}.ml.model import DigitsModel
{%- endif %}
{%- if cookiecutter.use_auth %}
from {{ cookiecutter.package_name }}.models.user import User
from {{ cookiecutter.package_name }}.services import users
{%- endif %}
from {{ cookiecutter.package_name }}.services.items import ItemReader, ItemService
{%- if cookiecutter.use_ml %}
from {{ cookiecutter.package_name }}.services.jobs import JobRunner
from {{ cookiecutter.package_name }}.services.predictions import MicroBatcher
{%- endif %}


async def get_app_settings(connection: HTTPConnection) -> Settings:
    return cast(Settings, connection.app.state.settings)


async def get_session_factory(connection: HTTPConnection) -> async_sessionmaker[AsyncSession]:
    return cast(async_sessionmaker[AsyncSession], connection.app.state.session_factory)


async def get_session(connection: HTTPConnection) -> AsyncIterator[AsyncSession]:
    session = connection.app.state.session_factory()
    try:
        yield session
    finally:
        await close_session(session)


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


async def get_item_reader(connection: HTTPConnection) -> ItemReader:
    # No `yield`: a reader leaves nothing open (services/items.py), and the item read is the
    # busiest route there is.
    state = connection.app.state
{%- if cookiecutter.use_celery %}
    return ItemReader(state.session_factory, cache=state.item_cache)
{%- else %}
    return ItemReader(state.session_factory)
{%- endif %}


ItemServiceDep = Annotated[ItemService, Depends(get_item_service)]
ItemReaderDep = Annotated[ItemReader, Depends(get_item_reader)]
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
# What a route with a JSON body may answer besides its own statuses and 422, for `responses`.
JSON_BODY_ERRORS = (400, 413, 415)
{%- if cookiecutter.use_auth %}

# Reads the bearer token, and puts the OAuth2 password flow into the OpenAPI document (the
# docs page's Authorize button). Without a token it returns None: the 401 is ours to send.
oauth2_scheme = OAuth2PasswordBearer(tokenUrl="/api/v1/auth/token", auto_error=False)


def not_authenticated(detail: str) -> ProblemError:
    return ProblemError(401, detail, headers={"WWW-Authenticate": "Bearer"})


async def get_current_user(
    token: Annotated[str | None, Depends(oauth2_scheme)],
    settings: SettingsDep,
    session_factory: SessionFactoryDep,
) -> User:
    """The caller the bearer token names, read from the database on every request."""
    if token is None:
        raise not_authenticated("Not authenticated")
    user_id = user_id_from_token(token, settings.secret_key)
    user = None
    if user_id is not None:
        # A session of its own, closed at once, rather than one held beside the route's.
        async with session_factory() as session:
            user = await users.get(session, user_id)
    if user is None:
        raise not_authenticated("The access token is invalid or has expired")
    return user


CurrentUser = Annotated[User, Depends(get_current_user)]


async def require_admin(user: CurrentUser) -> None:
    if not user.is_admin:
        raise ProblemError(403, "Only an administrator may do this")


# For routes that need a caller but not the caller's details.
Authenticated = Depends(get_current_user)
AdminOnly = Depends(require_admin)
# What a route that needs a caller may answer besides its own statuses, for `responses`.
AUTH_ERRORS = (401, 403)


async def get_login_throttle(connection: HTTPConnection) -> LoginThrottle:
    return cast(LoginThrottle, connection.app.state.login_throttle)


LoginThrottleDep = Annotated[LoginThrottle, Depends(get_login_throttle)]
{%- endif %}
