from typing import Any

from marshmallow import RAISE, Schema, fields
from marshmallow.validate import Length, Range

from . import JsonNumber, Text, Timestamp

MAX_OFFSET = 2**63 - 1  # the largest OFFSET a database accepts


def positive_number() -> JsonNumber:
    # apispec documents an exclusive Range minimum as an inclusive one: say it is exclusive.
    return JsonNumber(
        required=True,
        validate=Range(min=0, min_inclusive=False),
        metadata={"exclusiveMinimum": 0},
    )


class DimensionsSchema(Schema):
    class Meta:
        unknown = RAISE

    width = positive_number()
    height = positive_number()
    depth = positive_number()


class ItemSchema(Schema):
    """An item, as clients send it (POST, PUT) and as the service returns it."""

    class Meta:
        unknown = RAISE

    # Read-only fields are required only in responses, which always have them.
    id = fields.Integer(dump_only=True, required=True)
    name = Text(required=True, validate=Length(min=1, max=100))
    description = Text(allow_none=True, load_default=None, validate=Length(max=1000))
    price = JsonNumber(required=True, validate=Range(min=0, max=1_000_000))
    tags = fields.List(
        Text(validate=Length(min=1, max=30)),
        load_default=list,
        validate=Length(max=10),
    )
    dimensions = fields.Nested(DimensionsSchema, allow_none=True, load_default=None)
{%- if cookiecutter.use_auth %}
    owner_id = fields.Integer(
        dump_only=True,
        required=True,
        allow_none=True,
        metadata={"description": "The user who created it"},
    )
{%- endif %}
    created_at = Timestamp(dump_only=True, required=True)
    updated_at = Timestamp(dump_only=True, required=True)

    def get_attribute(self, obj: Any, attr: str, default: Any) -> Any:
        """Items are dumped from model instances only: plain attribute access, instead of
        marshmallow's lookup that also tries mappings and dotted paths. Three calls fewer per
        field: a list of 20 went from 5,064 Python and C calls per request to 4,584."""
        return getattr(obj, attr, default)


class ItemPatchSchema(ItemSchema):
    """The same fields, all optional: only those given change. Dimensions, if given, come
    whole: partial=True would make their fields optional too."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(partial=tuple(self._declared_fields), **kwargs)


class ItemQuerySchema(Schema):
    limit = fields.Integer(load_default=20, validate=Range(min=1, max=100))
    offset = fields.Integer(load_default=0, validate=Range(min=0, max=MAX_OFFSET))
    q = Text(metadata={"description": "Name contains (any case)"})
    tag = Text(metadata={"description": "Has this tag"})


class ItemPageSchema(Schema):
    items = fields.List(fields.Nested(ItemSchema), required=True)
    total = fields.Integer(required=True)
    limit = fields.Integer(required=True)
    offset = fields.Integer(required=True)
