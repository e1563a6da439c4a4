"""/api/v1/users: the caller's own account, and accounts an administrator creates."""

from fastapi import APIRouter

from {{ cookiecutter.package_name }}.api.deps import (
    AUTH_ERRORS,
    JSON_BODY_ERRORS,
    AdminOnly,
    CurrentUser,
    JsonBody,
    SessionDep,
)
from {{ cookiecutter.package_name }}.core.errors import ProblemError, problem_responses
from {{ cookiecutter.package_name }}.models.user import User
from {{ cookiecutter.package_name }}.schemas.user import UserCreate, UserRead
from {{ cookiecutter.package_name }}.services import users

router = APIRouter(prefix="/api/v1/users", tags=["users"])


@router.get("/me", response_model=UserRead, responses=problem_responses(*AUTH_ERRORS, 503))
async def read_me(user: CurrentUser) -> User:
    return user


@router.post(
    "",
    status_code=201,
    response_model=UserRead,
    dependencies=[JsonBody, AdminOnly],
    responses=problem_responses(*JSON_BODY_ERRORS, *AUTH_ERRORS, 409, 503),
)
async def create_user(body: UserCreate, session: SessionDep) -> User:
    try:
        return await users.create(session, body)
    except users.UsernameTaken as exc:
        raise ProblemError(409, str(exc)) from None
