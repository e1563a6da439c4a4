from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints

from {{ cookiecutter.package_name }}.schemas.item import STORABLE_TEXT_SCHEMA, Timestamp, storable_text

USERNAME_PATTERN = r"^[A-Za-z0-9_.@-]{3,50}$"
USERNAME_RULE = "3 to 50 characters of A-Z, a-z, 0-9 and _.@-"

Username = Annotated[
    str, StringConstraints(pattern=USERNAME_PATTERN), Field(description=USERNAME_RULE)
]
# A password with a lone surrogate in it could not be encoded for hashing.
Password = Annotated[
    str,
    StringConstraints(min_length=12, max_length=128),
    AfterValidator(storable_text),
    STORABLE_TEXT_SCHEMA,
]


class UserCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    username: Username
    password: Password
    is_admin: Annotated[bool, Field(strict=True)] = False


class UserRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    username: str
    is_admin: bool
    created_at: Timestamp


class Token(BaseModel):
    access_token: str
    token_type: Literal["bearer"] = "bearer"
    expires_in: int = Field(description="Seconds until the token expires")
