"""Train the digits classifier and export it to ONNX.

The data set is scikit-learn's bundled copy of the UCI handwritten digits (8x8 images,
pixel values 0-16), so training needs no download. Run it from the project root:

    pip install -e ".[train]"
    python -m {{ cookiecutter.package_name }}.ml.train

It writes ``digits.onnx`` and ``digits.json`` (version, held-out accuracy, classes) next to
this file. Serving needs only onnxruntime and numpy.
"""

import argparse
import hashlib
import json
from pathlib import Path
from typing import Any

import numpy as np
from skl2onnx import to_onnx
from sklearn.datasets import load_digits
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

HERE = Path(__file__).resolve().parent
N_FEATURES = 64


def train(seed: int = 0, test_size: float = 0.25) -> tuple[Any, float]:
    digits = load_digits()
    features = digits.data.astype(np.float32)
    x_train, x_test, y_train, y_test = train_test_split(
        features, digits.target, test_size=test_size, random_state=seed, stratify=digits.target
    )
    classifier = make_pipeline(StandardScaler(), LogisticRegression(max_iter=2000))
    classifier.fit(x_train, y_train)
    accuracy = float(classifier.score(x_test, y_test))
    return classifier, accuracy


def export(classifier: Any, accuracy: float, out_dir: Path = HERE) -> dict[str, Any]:
    onnx_model = to_onnx(
        classifier,
        np.zeros((1, N_FEATURES), dtype=np.float32),
        options={id(classifier): {"zipmap": False}},
        target_opset=17,
    )
    onnx_bytes = onnx_model.SerializeToString()
    (out_dir / "digits.onnx").write_bytes(onnx_bytes)
    metadata = {
        "name": "digits",
        "version": hashlib.sha256(onnx_bytes).hexdigest()[:12],
        "accuracy": round(accuracy, 4),
        "classes": [int(c) for c in classifier.classes_],
    }
    (out_dir / "digits.json").write_text(json.dumps(metadata, indent=2) + "\n")
    return metadata


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out-dir", type=Path, default=HERE)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    classifier, accuracy = train(seed=args.seed)
    metadata = export(classifier, accuracy, args.out_dir)
    print(json.dumps(metadata))


if __name__ == "__main__":
    main()
