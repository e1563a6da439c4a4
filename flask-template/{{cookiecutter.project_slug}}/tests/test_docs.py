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
