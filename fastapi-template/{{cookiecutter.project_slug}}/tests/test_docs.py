import re

import pytest
from fastapi.testclient import TestClient

ASSET_URL = re.compile(r"""(?:src|href)\s*=\s*["']([^"']+)["']""")


@pytest.mark.parametrize("page", ["/docs", "/redoc"])
def test_docs_pages_load_only_local_assets(client: TestClient, page: str):
    response = client.get(page)

    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    urls = ASSET_URL.findall(response.text)
    assert urls, "the page references its assets"
    assert all(url.startswith("/static/docs/") for url in urls), urls
    assert "http://" not in response.text
    assert "https://" not in response.text
    assert "/openapi.json" in response.text


def test_every_referenced_asset_is_served(client: TestClient):
    urls = set()
    for page in ("/docs", "/redoc"):
        urls.update(ASSET_URL.findall(client.get(page).text))

    for url in sorted(urls):
        response = client.get(url)
        assert response.status_code == 200, url
        assert response.content


def test_openapi_document(client: TestClient):
    document = client.get("/openapi.json").json()

    assert document["openapi"].startswith("3.1")
    assert "/api/v1/items/{item_id}" in document["paths"]
    assert "/api/v1/items/export" in document["paths"]


PROBLEM = {"application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}}
# /ready answers 503 with its report of the checks: the one error that is not a problem.
READINESS_FAILURE = ("/ready", "get", "503")


def test_every_error_response_is_the_shared_problem(client: TestClient):
    document = client.get("/openapi.json").json()

    schemas = document["components"]["schemas"]
    problem = schemas["Problem"]
    assert set(problem["required"]) == {"type", "title", "status", "detail", "instance"}
    assert problem["properties"]["errors"]["items"] == {
        "$ref": "#/components/schemas/ValidationIssue"
    }
    assert "HTTPValidationError" not in schemas
    errors = [
        ((path, method, status), response)
        for path, operations in document["paths"].items()
        for method, operation in operations.items()
        for status, response in operation["responses"].items()
        if int(status) >= 400
    ]
    assert len(errors) > 20
    for where, response in errors:
        if where != READINESS_FAILURE:
            assert response["content"] == PROBLEM, where


def test_conditional_requests_are_documented(client: TestClient):
    item = client.get("/openapi.json").json()["paths"]["/api/v1/items/{item_id}"]

    def headers(method: str) -> list[str]:
        return [p["name"].lower() for p in item[method]["parameters"] if p["in"] == "header"]

    assert headers("get") == ["if-none-match"]
    assert set(item["get"]["responses"]["200"]["headers"]) == {"ETag"}
    assert set(item["get"]["responses"]["304"]["headers"]) == {"ETag"}
    for method in ("put", "patch", "delete"):
        assert headers(method) == ["if-match"], method
        assert "412" in item[method]["responses"], method
    for method in ("put", "patch"):
        assert set(item[method]["responses"]["200"]["headers"]) == {"ETag"}, method


def test_request_schemas_are_as_strict_as_the_service(client: TestClient):
    schemas = client.get("/openapi.json").json()["components"]["schemas"]
    create, patch = schemas["ItemCreate"], schemas["ItemPatch"]

    assert create["additionalProperties"] is False
    assert patch["additionalProperties"] is False
    assert create["properties"]["name"]["pattern"] == "^[^\\u0000]*$"
    assert create["properties"]["tags"]["items"]["pattern"] == "^[^\\u0000]*$"
    # PATCH may leave these out, but refuses null for them.
    for field in ("name", "price", "tags"):
        assert "anyOf" not in patch["properties"][field], field
        assert "default" not in patch["properties"][field], field
    assert {"type": "null"} in patch["properties"]["description"]["anyOf"]
