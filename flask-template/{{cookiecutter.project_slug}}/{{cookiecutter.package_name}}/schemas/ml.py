import math
from typing import Any

from marshmallow import Schema, ValidationError, fields
from marshmallow.validate import Length, Range

from ..ml.model import INPUT_SIZE, PIXEL_MAX, PIXEL_MIN
from . import NUMBER_TYPES

MAX_PREDICT_ROWS = 256


class PixelRows(fields.List[Any]):
    """Rows of exactly 64 numbers from 0 to 16.

    Documented as the nested lists it is, but checked a row at a time with builtins: a
    marshmallow field per number would cost far more than the prediction itself. Errors
    are keyed by row and column: a bad value is reported at ["body", "inputs", row, column].
    """

    def __init__(self, max_rows: int, **kwargs: Any) -> None:
        pixel = fields.Float(validate=Range(min=PIXEL_MIN, max=PIXEL_MAX))
        row = fields.List(pixel, validate=Length(equal=INPUT_SIZE))
        super().__init__(row, validate=Length(min=1, max=max_rows), **kwargs)

    def _deserialize(  # type: ignore[override]  # marshmallow types items as optional
        self, value: Any, attr: Any, data: Any, **kwargs: Any
    ) -> list[list[float]]:
        if not isinstance(value, list):
            raise ValidationError("Not a valid list.")
        errors: dict[int, Any] = {}
        for row_index, row in enumerate(value):
            if not isinstance(row, list):
                errors[row_index] = ["Not a valid list."]
            elif len(row) != INPUT_SIZE:
                errors[row_index] = [f"Length must be {INPUT_SIZE}."]
            elif not self._valid_row(row):
                errors[row_index] = {
                    column: [self._pixel_error(pixel)]
                    for column, pixel in enumerate(row)
                    if self._pixel_error(pixel)
                }
        if errors:
            raise ValidationError(errors)
        return value

    @staticmethod
    def _valid_row(row: list[Any]) -> bool:
        """The common case, checked with C-speed builtins instead of a loop per number."""
        return (
            set(map(type, row)) <= NUMBER_TYPES
            and min(row) >= PIXEL_MIN
            and max(row) <= PIXEL_MAX
            and not any(map(math.isnan, row))
        )

    @staticmethod
    def _pixel_error(pixel: Any) -> str | None:
        if type(pixel) not in NUMBER_TYPES:
            return "Not a valid number."
        if not PIXEL_MIN <= pixel <= PIXEL_MAX:  # also catches NaN
            return f"Must be between {PIXEL_MIN} and {PIXEL_MAX}."
        return None


class ModelOutput(fields.List[Any]):
    """A list the model produced: documented element by element, returned as it is."""

    def _serialize(self, value: Any, attr: Any, obj: Any, **kwargs: Any) -> Any:
        return value


class PredictRequestSchema(Schema):
    inputs = PixelRows(max_rows=MAX_PREDICT_ROWS, required=True)


class PredictionSchema(Schema):
    label = fields.Integer(required=True)
    probabilities = fields.List(fields.Float(), required=True)


class PredictResponseSchema(Schema):
    model = fields.String(required=True)
    version = fields.String(required=True)
    predictions = ModelOutput(fields.Nested(PredictionSchema), required=True)


class ModelInputSchema(Schema):
    shape = fields.List(fields.Integer(), required=True)
    min = fields.Integer(required=True)
    max = fields.Integer(required=True)


class ModelSchema(Schema):
    name = fields.String(required=True)
    version = fields.String(required=True)
    input = fields.Nested(ModelInputSchema, required=True)
    classes = fields.List(fields.Integer(), required=True)
    metrics = fields.Dict(keys=fields.String(), values=fields.Float(), required=True)


class ModelListSchema(Schema):
    models = fields.List(fields.Nested(ModelSchema), required=True)
