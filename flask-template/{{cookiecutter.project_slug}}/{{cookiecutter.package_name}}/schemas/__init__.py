"""marshmallow schemas: request validation, response shapes and the OpenAPI document."""

from datetime import UTC, datetime
from typing import Any

from marshmallow import ValidationError, fields

TIMESTAMP_FORMAT = "%Y-%m-%dT%H:%M:%S.%fZ"
# What validate_text refuses, in the document's words: a NUL character. (Lone surrogates,
# which it refuses too, are no text a JSON Schema pattern can describe.)
TEXT_PATTERN = r"^[^\u0000]*$"
NUMBER_TYPES = {int, float}  # exact types: JSON true and false are not numbers


def format_timestamp(value: datetime) -> str:
    """RFC 3339 in UTC with six fraction digits, e.g. 2026-01-02T03:04:05.123456Z."""
    if value.tzinfo is None:  # SQLite hands back naive datetimes; they were stored as UTC
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC).strftime(TIMESTAMP_FORMAT)


class Timestamp(fields.DateTime):
    """A read-only UTC timestamp in the service's one format."""

    def _serialize(self, value: datetime | None, attr: Any, obj: Any, **kwargs: Any) -> str | None:
        return None if value is None else format_timestamp(value)


class JsonNumber(fields.Float):
    """A JSON number: a string such as "5", or true or false, is refused, not converted."""

    def _deserialize(self, value: Any, attr: Any, data: Any, **kwargs: Any) -> float:
        if type(value) not in NUMBER_TYPES:
            raise self.make_error("invalid")
        number: float = super()._deserialize(value, attr, data, **kwargs)
        return number


def validate_text(value: str) -> None:
    """Refuse what no database column can store: NUL characters and lone surrogates."""
    if "\x00" in value:
        raise ValidationError("Must not contain NUL characters.")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError as error:
        raise ValidationError("Must be valid Unicode text.") from error


class Text(fields.String):
    """A string any database column can store (validate_text), documented as such."""

    def __init__(self, **kwargs: Any) -> None:
        metadata = {"pattern": TEXT_PATTERN, **kwargs.pop("metadata", {})}
        super().__init__(metadata=metadata, **kwargs)
        self.validators.append(validate_text)
