from datetime import UTC, datetime
from typing import Annotated, Any

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    PlainSerializer,
    StringConstraints,
    field_validator,
)


def format_timestamp(value: datetime) -> str:
    """RFC 3339 in UTC with microseconds: 2026-01-02T03:04:05.123456Z."""
    if value.tzinfo is None:  # SQLite hands back naive datetimes; they were stored in UTC
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def storable_text(value: str) -> str:
    """Refuse what no database text column can store: NUL characters and lone surrogates."""
    if "\x00" in value:
        raise ValueError("must not contain NUL characters")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise ValueError("must be valid Unicode text") from None
    return value


def without_null(schema: dict[str, Any]) -> None:
    """For a field whose None only means "not given": document its type alone, not null."""
    (not_null,) = (option for option in schema.pop("anyOf") if option != {"type": "null"})
    schema.pop("default", None)
    schema.update(not_null)


Timestamp = Annotated[datetime, PlainSerializer(format_timestamp, return_type=str)]
# storable_text in the document: no NUL characters. (Lone surrogates, which it refuses too,
# are not Unicode text, so no JSON Schema string can hold one.)
STORABLE_TEXT_SCHEMA = Field(json_schema_extra={"pattern": r"^[^\u0000]*$"})
# Every text the API accepts, in a body or a query string, ends up in a database query.
Text = Annotated[str, AfterValidator(storable_text), STORABLE_TEXT_SCHEMA]
Name = Annotated[Text, StringConstraints(min_length=1, max_length=100)]
Description = Annotated[Text, StringConstraints(max_length=1000)]
# Finite numbers only: JSON has no infinity, but 1e999 parses as one. strict: a JSON number,
# never "5" or true coerced into one.
Price = Annotated[float, Field(ge=0, le=1_000_000, allow_inf_nan=False, strict=True)]
Tag = Annotated[Text, StringConstraints(min_length=1, max_length=30)]
Tags = Annotated[list[Tag], Field(max_length=10)]
Length = Annotated[float, Field(gt=0, allow_inf_nan=False, strict=True)]


class Dimensions(BaseModel):
    model_config = ConfigDict(extra="forbid")

    width: Length
    height: Length
    depth: Length


class ItemCreate(BaseModel):
    """The body of POST and PUT: a complete item."""

    model_config = ConfigDict(extra="forbid")

    name: Name
    description: Description | None = None
    price: Price
    tags: Tags = []
    dimensions: Dimensions | None = None


class ItemPatch(BaseModel):
    """The body of PATCH: any subset of the item's fields."""

    model_config = ConfigDict(extra="forbid")

    name: Annotated[Name | None, Field(json_schema_extra=without_null)] = None
    description: Description | None = None
    price: Annotated[Price | None, Field(json_schema_extra=without_null)] = None
    tags: Annotated[Tags | None, Field(json_schema_extra=without_null)] = None
    dimensions: Dimensions | None = None

    @field_validator("name", "price", "tags")
    @classmethod
    def reject_null(cls, value: object) -> object:
        # Validators do not run on defaults, so this only fires for an explicit null.
        if value is None:
            raise ValueError("may not be null")
        return value


class ItemRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    name: str
    description: str | None
    price: float
    tags: list[str]
    dimensions: Dimensions | None
{%- if cookiecutter.use_auth %}
    owner_id: int | None
{%- endif %}
    created_at: Timestamp
    updated_at: Timestamp


class ItemList(BaseModel):
    items: list[ItemRead]
    total: int
    limit: int
    offset: int
