from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

# strict: a pixel is a JSON number; "3" and true are rejected rather than coerced.
Pixel = Annotated[float, Field(ge=0, le=16, strict=True, allow_inf_nan=False)]
ImageRow = Annotated[list[Pixel], Field(min_length=64, max_length=64)]


class PredictRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    inputs: Annotated[list[ImageRow], Field(min_length=1, max_length=256)]


class Prediction(BaseModel):
    label: int
    probabilities: list[float]


class PredictResponse(BaseModel):
    model: str
    version: str
    predictions: list[Prediction]


class ModelInput(BaseModel):
    shape: list[int]
    min: float
    max: float


class ModelInfo(BaseModel):
    name: str
    version: str
    input: ModelInput
    classes: list[int]
    metrics: dict[str, float]


class ModelList(BaseModel):
    models: list[ModelInfo]
