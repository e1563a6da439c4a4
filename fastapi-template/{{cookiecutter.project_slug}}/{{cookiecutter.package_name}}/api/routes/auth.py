"""/api/v1/auth/token: a username and password for an access token (the OAuth2 password grant)."""

from datetime import timedelta
from typing import Annotated

from fastapi import APIRouter, Depends, Form, Request, Response
from fastapi.security import OAuth2PasswordRequestForm

from {{ cookiecutter.package_name }}.api.deps import LoginThrottleDep, SessionDep, SettingsDep, not_authenticated
from {{ cookiecutter.package_name }}.core.auth import create_access_token
from {{ cookiecutter.package_name }}.core.errors import ProblemError, problem_responses
from {{ cookiecutter.package_name }}.schemas.user import Token
from {{ cookiecutter.package_name }}.services import users

router = APIRouter(prefix="/api/v1/auth", tags=["auth"])


class PasswordGrantForm(OAuth2PasswordRequestForm):
    """OAuth2PasswordRequestForm, with username and password documented as FastAPI reads
    them: an empty form field is a missing one (422). scope and the client fields are ignored."""

    def __init__(
        self,
        username: Annotated[str, Form(min_length=1)],
        password: Annotated[str, Form(min_length=1, json_schema_extra={"format": "password"})],
        grant_type: Annotated[str, Form(pattern="^password$")] = "password",
    ) -> None:
        super().__init__(username=username, password=password, grant_type=grant_type)


LoginForm = Annotated[PasswordGrantForm, Depends()]
NO_STORE_HEADER = {
    "Cache-Control": {"schema": {"type": "string", "enum": ["no-store"]}, "required": True}
}


@router.post(
    "/token",
    response_model=Token,
    responses={
        200: {"headers": NO_STORE_HEADER},
        # 400: a form body that cannot be parsed; 503: the database (or Redis) is down.
        **problem_responses(400, 401, 429, 503),
    },
)
async def issue_token(
    form: LoginForm,
    request: Request,
    response: Response,
    session: SessionDep,
    settings: SettingsDep,
    throttle: LoginThrottleDep,
) -> Token:
    """Form-encoded `username` and `password`; `grant_type`, if sent, must be `password`."""
    address = request.client.host if request.client else ""
    retry_after = await throttle.retry_after(form.username, address)
    if retry_after is not None:
        raise ProblemError(
            429,
            "Too many failed login attempts: try again later",
            headers={"Retry-After": str(retry_after)},
        )
    user = await users.authenticate(session, form.username, form.password)
    if user is None:
        await throttle.record_failure(form.username, address)
        raise not_authenticated("Incorrect username or password")
    lifetime = timedelta(minutes=settings.access_token_minutes)
    response.headers["Cache-Control"] = "no-store"
    return Token(
        access_token=create_access_token(user.id, settings.secret_key, lifetime),
        expires_in=int(lifetime.total_seconds()),
    )
