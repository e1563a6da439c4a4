"""Load the shipped ONNX digits model once per process and run predictions with it."""

import json
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np
import onnxruntime

MODEL_DIR = Path(__file__).resolve().parent
INPUT_SIZE = 64
PIXEL_MIN = 0
PIXEL_MAX = 16


class DigitsModel:
    """An 8x8 handwritten-digit classifier: 64 pixel values in, one of ten classes out."""

    name = "digits"

    def __init__(self, onnx_path: Path, metadata_path: Path) -> None:
        metadata = json.loads(metadata_path.read_text())
        self.version: str = metadata["version"]
        self.accuracy: float = metadata["accuracy"]
        self.classes: list[int] = metadata["classes"]
        options = onnxruntime.SessionOptions()
        # Each server worker process is its own replica; one thread apiece avoids
        # oversubscribing the cores that the other workers share.
        options.intra_op_num_threads = 1
        options.inter_op_num_threads = 1
        self._session = onnxruntime.InferenceSession(
            str(onnx_path), sess_options=options, providers=["CPUExecutionProvider"]
        )
        self._input_name = self._session.get_inputs()[0].name

    def describe(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "version": self.version,
            "input": {"shape": [INPUT_SIZE], "min": PIXEL_MIN, "max": PIXEL_MAX},
            "classes": self.classes,
            "metrics": {"accuracy": self.accuracy},
        }

    def predict(self, rows: list[list[float]]) -> list[dict[str, Any]]:
        """Classify validated rows (each 64 numbers in 0-16), one result per row, in order."""
        batch = np.asarray(rows, dtype=np.float32).reshape(-1, INPUT_SIZE)
        labels, probabilities = self._session.run(
            ["label", "probabilities"], {self._input_name: batch}
        )
        return [
            {"label": int(label), "probabilities": [float(p) for p in row]}
            for label, row in zip(labels, probabilities, strict=True)
        ]


@cache
def load_model() -> DigitsModel:
    return DigitsModel(MODEL_DIR / "digits.onnx", MODEL_DIR / "digits.json")
