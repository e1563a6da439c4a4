"""The handwritten-digits model: description and synchronous predictions."""

from typing import Any

from fastapi import APIRouter

from {{ cookiecutter.package_name }}.api.deps import JSON_BODY_ERRORS, BatcherDep, JsonBody, ModelDep
from {{ cookiecutter.package_name }}.core.errors import problem_responses
from {{ cookiecutter.package_name }}.schemas.ml import ModelInfo, ModelList, PredictRequest, PredictResponse
from {{ cookiecutter.package_name }}.services.predictions import predict

router = APIRouter(prefix="/api/v1/models", tags=["ml"])


@router.get("", response_model=ModelList)
async def list_models(model: ModelDep) -> dict[str, Any]:
    return {"models": [model.describe()]}


@router.get("/digits", response_model=ModelInfo)
async def describe_digits(model: ModelDep) -> dict[str, Any]:
    return model.describe()


@router.post(
    "/digits/predict",
    response_model=PredictResponse,
    dependencies=[JsonBody],
    responses=problem_responses(*JSON_BODY_ERRORS),
)
async def predict_digits(
    body: PredictRequest, model: ModelDep, batcher: BatcherDep
) -> dict[str, Any]:
    if batcher is not None:
        predictions = await batcher.predict(body.inputs)
    else:
        predictions = await predict(model, body.inputs)
    return {"model": model.name, "version": model.version, "predictions": predictions}
