from marshmallow import Schema, fields
from marshmallow.validate import OneOf

CHECK_RESULTS = ["ok", "fail", "disabled"]


class HealthSchema(Schema):
    status = fields.String(required=True, validate=OneOf(["ok"]))


class ChecksSchema(Schema):
    database = fields.String(required=True, validate=OneOf(["ok", "fail"]))
    redis = fields.String(required=True, validate=OneOf(CHECK_RESULTS))
    model = fields.String(required=True, validate=OneOf(CHECK_RESULTS))


class ReadySchema(Schema):
    status = fields.String(required=True, validate=OneOf(["ok", "fail"]))
    checks = fields.Nested(ChecksSchema, required=True)
{%- if cookiecutter.use_websockets %}
    realtime = fields.String(
        required=True,
        validate=OneOf(["local", "redis"]),
        metadata={"description": "Whether WebSocket rooms reach this process only, or all"},
    )
{%- endif %}
