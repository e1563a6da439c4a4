import re

import pytest

ASSET_URL = re.compile(r"""(?:src|href)=["']([^"']+)["']""")


def test_openapi_document(client):
    response = client.get("/openapi.json")
    assert response.status_code == 200
    spec = response.json
    assert spec["openapi"].startswith("3.")
    assert "/api/v1/items" in spec["paths"]
    assert "/api/v1/items/{item_id}" in spec["paths"]


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
PUBLIC = [
    ("/api/v1/items", "get"),
    ("/api/v1/items/{item_id}", "get"),
    ("/api/v1/auth/token", "post"),
    ("/health", "get"),
]
PROBLEM = {"application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}}


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
        assert operation["responses"]["401"]["content"] == PROBLEM, (path, method)
        assert operation["responses"]["403"]["content"] == PROBLEM, (path, method)
    for path, method in PUBLIC:
        assert "security" not in spec["paths"][path][method], (path, method)
    token_form = spec["paths"]["/api/v1/auth/token"]["post"]["requestBody"]["content"]
    assert list(token_form) == ["application/x-www-form-urlencoded"]
{%- endif %}
