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
