"""/api/v1/models: the digits classifier, described and predicting."""

from typing import Any

from flask.views import MethodView

from ...ml.model import load_model
from ...schemas.ml import (
    ModelListSchema,
    ModelSchema,
    PredictRequestSchema,
    PredictResponseSchema,
)
from . import Blueprint
from .docs import JSON_BODY, problems

blp = Blueprint("models", __name__, url_prefix="/api/v1/models", description="ML inference")


@blp.route("")
class Models(MethodView):
    @blp.response(200, ModelListSchema)
    def get(self) -> dict[str, Any]:
        """List the models."""
        return {"models": [load_model().describe()]}


@blp.route("/digits")
class DigitsModel(MethodView):
    @blp.response(200, ModelSchema)
    def get(self) -> dict[str, Any]:
        """Describe the handwritten-digits classifier."""
        return load_model().describe()


@blp.route("/digits/predict")
class DigitsPrediction(MethodView):
    @blp.arguments(PredictRequestSchema)
    @blp.response(200, PredictResponseSchema)
    @blp.doc(responses=problems(*JSON_BODY))
    def post(self, body: dict[str, Any]) -> dict[str, Any]:
        """Classify 1 to 256 images of 64 pixels (0-16), one prediction per row, in order."""
        model = load_model()
        return {
            "model": model.name,
            "version": model.version,
            "predictions": model.predict(body["inputs"]),
        }
