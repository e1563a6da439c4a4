from marshmallow import RAISE, Schema, fields
from marshmallow.validate import Length, Range

from . import JsonNumber, Timestamp, validate_text

MAX_OFFSET = 2**63 - 1  # the largest OFFSET a database accepts


class DimensionsSchema(Schema):
    class Meta:
        unknown = RAISE

    width = JsonNumber(required=True, validate=Range(min=0, min_inclusive=False))
    height = JsonNumber(required=True, validate=Range(min=0, min_inclusive=False))
    depth = JsonNumber(required=True, validate=Range(min=0, min_inclusive=False))


class ItemSchema(Schema):
    """An item, as clients send it (POST, PUT) and as the service returns it."""

    class Meta:
        unknown = RAISE

    id = fields.Integer(dump_only=True)
    name = fields.String(required=True, validate=[Length(min=1, max=100), validate_text])
    description = fields.String(
        allow_none=True, load_default=None, validate=[Length(max=1000), validate_text]
    )
    price = JsonNumber(required=True, validate=Range(min=0, max=1_000_000))
    tags = fields.List(
        fields.String(validate=[Length(min=1, max=30), validate_text]),
        load_default=list,
        validate=Length(max=10),
    )
    dimensions = fields.Nested(DimensionsSchema, allow_none=True, load_default=None)
    created_at = Timestamp(dump_only=True)
    updated_at = Timestamp(dump_only=True)


class ItemPatchSchema(ItemSchema):
    """The same fields, all optional: only those given change. Load it with partial=True."""


class ItemQuerySchema(Schema):
    limit = fields.Integer(load_default=20, validate=Range(min=1, max=100))
    offset = fields.Integer(load_default=0, validate=Range(min=0, max=MAX_OFFSET))
    q = fields.String(validate=validate_text, metadata={"description": "Name contains (any case)"})
    tag = fields.String(validate=validate_text, metadata={"description": "Has this tag"})


class ItemPageSchema(Schema):
    items = fields.List(fields.Nested(ItemSchema))
    total = fields.Integer()
    limit = fields.Integer()
    offset = fields.Integer()
