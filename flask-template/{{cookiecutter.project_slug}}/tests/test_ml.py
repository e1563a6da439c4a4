import pytest

from {{ cookiecutter.package_name }}.ml.model import load_model


def image(value: float = 0.0) -> list[float]:
    return [value] * 64


def sample_rows() -> list[list[float]]:
    return [[float((row * 7 + column) % 17) for column in range(64)] for row in range(5)]


def test_list_models(client):
    response = client.get("/api/v1/models")
    assert response.status_code == 200
    assert response.json == {"models": [load_model().describe()]}


def test_describe_digits(client):
    body = client.get("/api/v1/models/digits").json
    assert body["name"] == "digits"
    assert body["input"] == {"shape": [64], "min": 0, "max": 16}
    assert body["classes"] == list(range(10))
    assert 0 < body["metrics"]["accuracy"] <= 1


def test_predictions_match_the_model(client):
    rows = sample_rows()
    response = client.post("/api/v1/models/digits/predict", json={"inputs": rows})
    assert response.status_code == 200
    body = response.json
    model = load_model()
    assert body["model"] == "digits"
    assert body["version"] == model.version
    expected = model.predict(rows)
    assert [p["label"] for p in body["predictions"]] == [p["label"] for p in expected]
    for got, want in zip(body["predictions"], expected, strict=True):
        assert got["probabilities"] == pytest.approx(want["probabilities"])
        assert sum(got["probabilities"]) == pytest.approx(1, abs=1e-4)


@pytest.mark.parametrize(
    "inputs, loc",
    [
        ([], ["body", "inputs"]),
        ([image()] * 257, ["body", "inputs"]),
        ([image(), image()[:63]], ["body", "inputs", 1]),
        ([image(), "row"], ["body", "inputs", 1]),
        ([image(), image()[:10] + [17] + image()[:53]], ["body", "inputs", 1, 10]),
        ([image()[:5] + [-1] + image()[:58]], ["body", "inputs", 0, 5]),
        ([image()[:3] + ["7"] + image()[:60]], ["body", "inputs", 0, 3]),
        ([image()[:3] + [None] + image()[:60]], ["body", "inputs", 0, 3]),
        ("not a list", ["body", "inputs"]),
    ],
)
def test_invalid_inputs_are_located_to_row_and_column(client, inputs, loc):
    response = client.post("/api/v1/models/digits/predict", json={"inputs": inputs})
    assert response.status_code == 422
    assert response.mimetype == "application/problem+json"
    assert [error["loc"] for error in response.json["errors"]] == [loc]


def test_missing_inputs(client):
    response = client.post("/api/v1/models/digits/predict", json={})
    assert response.status_code == 422
    assert response.json["errors"][0]["loc"] == ["body", "inputs"]
