from marshmallow import Schema, fields
from marshmallow.validate import OneOf

from ..models.job import FAILURE, PENDING, STARTED, SUCCESS
from . import Timestamp
from .ml import PixelRows

MAX_JOB_ROWS = 10_000


class PredictionJobRequestSchema(Schema):
    inputs = PixelRows(max_rows=MAX_JOB_ROWS, required=True)


class JobSchema(Schema):
    id = fields.String(required=True)
    status = fields.String(required=True, validate=OneOf([PENDING, STARTED, SUCCESS, FAILURE]))
    result = fields.Dict(
        required=True, allow_none=True, metadata={"description": '{"predictions": [...]}'}
    )
    error = fields.String(required=True, allow_none=True)
    created_at = Timestamp(required=True)
    updated_at = Timestamp(required=True)
