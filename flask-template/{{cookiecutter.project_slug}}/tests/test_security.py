"""Security headers on every kind of response, the docs pages' policy, and the docs switch."""

import pytest

SECURITY_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "Cross-Origin-Opener-Policy": "same-origin",
}


@pytest.mark.parametrize(
    ("method", "path", "status"),
    [
        ("GET", "/health", 200),
        ("GET", "/openapi.json", 200),
        ("GET", "/nope", 404),
        ("GET", "/api/v1/items/999999", 404),
        ("POST", "/api/v1/items", 422),
    ],
)
def test_every_response_carries_the_security_headers(client, method, path, status):
    response = client.open(path, method=method, json={} if method == "POST" else None)
    assert response.status_code == status
    assert {name: response.headers.get(name) for name in SECURITY_HEADERS} == SECURITY_HEADERS
    assert "Strict-Transport-Security" not in response.headers
    assert "Content-Security-Policy" not in response.headers


@pytest.mark.parametrize("page", ["/docs", "/redoc"])
def test_docs_pages_allow_only_their_own_assets(client, page):
    policy = client.get(page).headers["Content-Security-Policy"]
    directives = dict(part.strip().split(" ", 1) for part in policy.split(";"))
    assert directives["default-src"] == "'self'"
    assert directives["script-src"].split()[0] == "'self'"
    assert "http" not in policy and "*" not in policy


def test_hsts_when_asked(make_app):
    response = make_app(HSTS_SECONDS=31536000).test_client().get("/health")
    assert response.headers["Strict-Transport-Security"] == "max-age=31536000; includeSubDomains"


def test_docs_can_be_switched_off(make_app):
    client = make_app(DOCS_ENABLED=False).test_client()
    for path in ("/docs", "/redoc", "/openapi.json"):
        assert client.get(path).status_code == 404, path
    assert client.get("/health").status_code == 200
