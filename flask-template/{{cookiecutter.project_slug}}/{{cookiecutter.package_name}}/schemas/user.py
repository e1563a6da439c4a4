from typing import Any

from marshmallow import EXCLUDE, RAISE, Schema, ValidationError, fields
from marshmallow.validate import Equal, Length, OneOf

from ..models.user import USERNAME, is_username
from . import Text, Timestamp

MIN_PASSWORD_LENGTH = 12
MAX_PASSWORD_LENGTH = 128


def validate_username(value: str) -> None:
    if not is_username(value):
        raise ValidationError("Must be 3 to 50 characters of A-Z, a-z, 0-9, _ . @ -")


class JsonBoolean(fields.Boolean):
    """A JSON true or false: a string such as "true", or a number, is refused, not converted."""

    def _deserialize(self, value: Any, attr: Any, data: Any, **kwargs: Any) -> bool:
        if not isinstance(value, bool):
            raise self.make_error("invalid")
        return value


class UserSchema(Schema):
    """A user, as the service returns it: never the password or its hash."""

    id = fields.Integer(required=True)
    username = fields.String(required=True)
    is_admin = fields.Boolean(required=True)
    created_at = Timestamp(required=True)


class UserCreateSchema(Schema):
    class Meta:
        unknown = RAISE

    username = fields.String(
        required=True, validate=validate_username, metadata={"pattern": f"^{USERNAME.pattern}$"}
    )
    password = Text(
        required=True,
        load_only=True,
        validate=Length(min=MIN_PASSWORD_LENGTH, max=MAX_PASSWORD_LENGTH),
    )
    is_admin = JsonBoolean(load_default=False)


class TokenRequestSchema(Schema):
    """The OAuth2 password grant's form (RFC 6749, 4.3); the fields it does not use are
    accepted and ignored."""

    class Meta:
        unknown = EXCLUDE

    grant_type = fields.String(validate=Equal("password"))
    username = fields.String(required=True)
    password = fields.String(required=True, load_only=True)
    scope = fields.String()
    client_id = fields.String()
    client_secret = fields.String(load_only=True)


class TokenSchema(Schema):
    access_token = fields.String(required=True)
    token_type = fields.String(required=True, validate=OneOf(["bearer"]))
    expires_in = fields.Integer(
        required=True, metadata={"description": "Seconds until the token expires"}
    )
