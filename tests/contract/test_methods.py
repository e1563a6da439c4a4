"""HEAD on every GET route (status and headers, no body) and OPTIONS on every route."""

import pytest

GET_PATHS = ["/health", "/ready", "/api/v1/items", "/api/v1/models/digits", "/openapi.json"]
ALLOWED = {
    "/health": {"GET", "HEAD", "OPTIONS"},
    "/api/v1/items": {"GET", "HEAD", "OPTIONS", "POST"},
    "/api/v1/items/1": {"DELETE", "GET", "HEAD", "OPTIONS", "PATCH", "PUT"},
    "/api/v1/models/digits/predict": {"OPTIONS", "POST"},
}


def allow_header(response) -> set[str]:
    return {method.strip() for method in response.headers["allow"].split(",")}


@pytest.mark.parametrize("path", GET_PATHS)
def test_head_answers_like_get_without_a_body(client, path):
    get, head = client.get(path), client.head(path)
    assert head.status_code == get.status_code == 200
    assert head.headers["content-type"] == get.headers["content-type"]
    assert head.content == b""


def test_head_of_a_missing_item_is_404_without_a_body(client):
    response = client.head("/api/v1/items/987654321")
    assert response.status_code == 404
    assert response.headers["content-type"] == "application/problem+json"
    assert response.content == b""


def test_head_of_an_item_carries_its_etag(client):
    created = client.post("/api/v1/items", json={"name": "headed", "price": 1})
    assert created.status_code == 201, created.text
    path = f"/api/v1/items/{created.json()['id']}"
    assert client.head(path).headers["etag"] == client.get(path).headers["etag"]


@pytest.mark.parametrize("path", sorted(ALLOWED))
def test_options_is_204_with_allow(client, path):
    response = client.options(path)
    assert response.status_code == 204, response.text
    assert allow_header(response) == ALLOWED[path]
    assert response.content == b""


@pytest.mark.parametrize("path", sorted(ALLOWED))
def test_405_allow_lists_every_method_of_the_path(client, path):
    wrong = "PATCH" if "PATCH" not in ALLOWED[path] else "POST"
    response = client.request(wrong, path)
    assert response.status_code == 405, response.text
    assert allow_header(response) == ALLOWED[path]


def test_options_of_an_unknown_path_is_404(client):
    assert client.options("/no/such/path").status_code == 404
