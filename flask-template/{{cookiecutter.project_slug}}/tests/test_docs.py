import re

import pytest

ASSET_URL = re.compile(r"""(?:src|href)=["']([^"']+)["']""")
PROBLEM = {"application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}}
ITEM = "/api/v1/items/{item_id}"


def resolve(spec, node):
    """What a `$ref` such as #/components/responses/NOT_FOUND points to; else the node."""
    if "$ref" not in node:
        return node
    for part in node["$ref"].removeprefix("#/").split("/"):
        spec = spec[part]
    return spec


def operations(spec):
    for path, path_item in spec["paths"].items():
        for method, operation in path_item.items():
            if method != "parameters":
                yield (method.upper(), path), operation


def test_openapi_document(client):
    response = client.get("/openapi.json")
    assert response.status_code == 200
    spec = response.json
    assert spec["openapi"].startswith("3.")
    assert "/api/v1/items" in spec["paths"]
    assert ITEM in spec["paths"]


def test_every_error_response_is_the_shared_problem(client):
    spec = client.get("/openapi.json").json
    problem = spec["components"]["schemas"]["Problem"]
    assert set(problem["properties"]) == {"type", "title", "status", "detail", "instance", "errors"}
    assert set(problem["required"]) == {"type", "title", "status", "detail", "instance"}
    errors_seen = 0
    for where, operation in operations(spec):
        # No catch-all: each status an operation answers is documented on it.
        assert "default" not in operation["responses"], where
        for status, response in operation["responses"].items():
            # /ready's 503 is its own report, not an error of the request.
            if int(status) >= 400 and where != ("GET", "/ready"):
                assert resolve(spec, response)["content"] == PROBLEM, (where, status)
                errors_seen += 1
    assert errors_seen > 10


def test_json_bodies_document_their_errors(client):
    spec = client.get("/openapi.json").json
    for where, operation in operations(spec):
        if "application/json" in operation.get("requestBody", {}).get("content", {}):
            assert {"400", "413", "415", "422"} <= set(operation["responses"]), where


def test_conditional_requests_are_documented(client):
    item = client.get("/openapi.json").json["paths"][ITEM]
    get = item["get"]
    assert [p["name"] for p in get["parameters"]] == ["If-None-Match"]
    assert "ETag" in get["responses"]["200"]["headers"]
    assert "ETag" in get["responses"]["304"]["headers"]
    for method in ("put", "patch", "delete"):
        assert [p["name"] for p in item[method]["parameters"]] == ["If-Match"], method
        assert "412" in item[method]["responses"], method
    for method in ("put", "patch"):
        assert "ETag" in item[method]["responses"]["200"]["headers"], method


def test_operations_document_what_they_send(client):
    paths = client.get("/openapi.json").json["paths"]
    assert set(paths["/health"]["get"]["responses"]) == {"200"}
    assert set(paths["/ready"]["get"]["responses"]) == {"200", "503"}
    assert list(paths["/metrics"]["get"]["responses"]["200"]["content"]) == ["text/plain"]


@pytest.mark.parametrize("page", ["/docs", "/redoc"])
def test_pages_load_only_local_assets(client, page):
    response = client.get(page)
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assets = ASSET_URL.findall(html)
    assert assets
    for url in assets:
        assert url.startswith("/static/docs/"), url
        assert client.get(url).status_code == 200, url
    assert "http://" not in html and "https://" not in html


def test_every_asset_is_served(client):
    for name in (
        "swagger-ui-bundle.js",
        "swagger-ui-standalone-preset.js",
        "swagger-ui.css",
        "favicon-32x32.png",
        "redoc.standalone.js",
    ):
        assert client.get(f"/static/docs/{name}").status_code == 200, name
{%- if cookiecutter.use_auth %}


PROTECTED = [
    ("/api/v1/items", "post"),
    ("/api/v1/items/{item_id}", "put"),
    ("/api/v1/items/{item_id}", "patch"),
    ("/api/v1/items/{item_id}", "delete"),
{%- if cookiecutter.use_ml %}
    ("/api/v1/jobs/predictions", "post"),
{%- endif %}
    ("/api/v1/users", "post"),
    ("/api/v1/users/me", "get"),
]
# Those a signed-in user may still be refused: not the item's owner, or not an admin.
FORBIDDEN = [
    ("/api/v1/items/{item_id}", "put"),
    ("/api/v1/items/{item_id}", "patch"),
    ("/api/v1/items/{item_id}", "delete"),
    ("/api/v1/users", "post"),
]
PUBLIC = [
    ("/api/v1/items", "get"),
    ("/api/v1/items/{item_id}", "get"),
    ("/api/v1/auth/token", "post"),
    ("/health", "get"),
]


def test_protected_operations_declare_the_oauth2_password_scheme(client):
    spec = client.get("/openapi.json").json
    assert spec["components"]["securitySchemes"] == {
        "OAuth2PasswordBearer": {
            "type": "oauth2",
            "flows": {"password": {"tokenUrl": "/api/v1/auth/token", "scopes": {}}},
        }
    }
    for path, method in PROTECTED:
        operation = spec["paths"][path][method]
        assert operation["security"] == [{"OAuth2PasswordBearer": []}], (path, method)
        unauthorized = resolve(spec, operation["responses"]["401"])
        assert unauthorized["content"] == PROBLEM, (path, method)
        assert "WWW-Authenticate" in unauthorized["headers"], (path, method)
        assert ("403" in operation["responses"]) == ((path, method) in FORBIDDEN), (path, method)
    for path, method in PUBLIC:
        assert "security" not in spec["paths"][path][method], (path, method)
    token_form = spec["paths"]["/api/v1/auth/token"]["post"]["requestBody"]["content"]
    assert list(token_form) == ["application/x-www-form-urlencoded"]
{%- endif %}
