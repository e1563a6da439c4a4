"""Security defaults: the same headers on every kind of response, a CSP on the docs pages."""

import pytest

SECURITY_HEADERS = {
    "x-content-type-options": "nosniff",
    "x-frame-options": "DENY",
    "referrer-policy": "no-referrer",
    "cross-origin-opener-policy": "same-origin",
}
ITEMS = "/api/v1/items"


@pytest.mark.parametrize(
    ("method", "path", "body", "status"),
    [
        ("GET", "/health", None, 200),
        ("GET", "/metrics", None, 200),
        ("GET", "/openapi.json", None, 200),
        ("GET", "/static/docs/swagger-ui.css", None, 200),
        ("GET", ITEMS, None, 200),
        ("POST", ITEMS, {"name": "headers", "price": 1}, 201),
        ("POST", ITEMS, {"price": -1}, 422),
        ("GET", f"{ITEMS}/999999999", None, 404),
        ("DELETE", "/health", None, 405),
        ("GET", "/no/such/route", None, 404),
    ],
)
def test_every_kind_of_response_carries_the_security_headers(client, method, path, body, status):
    response = client.request(method, path, json=body)
    assert response.status_code == status, response.text
    assert {name: response.headers.get(name) for name in SECURITY_HEADERS} == SECURITY_HEADERS
    assert "content-security-policy" not in response.headers
    # Off unless HSTS_SECONDS asks for it: a plain-HTTP deployment must not be pinned to HTTPS.
    assert "strict-transport-security" not in response.headers


@pytest.mark.parametrize("page", ["/docs", "/redoc"])
def test_docs_pages_allow_only_the_services_own_assets(client, page):
    response = client.get(page)
    assert response.status_code == 200
    policy = response.headers["content-security-policy"]
    directives = {
        name: sources.split()
        for name, _, sources in (part.strip().partition(" ") for part in policy.split(";"))
    }
    assert directives["default-src"] == ["'self'"]
    for directive in ("script-src", "style-src", "img-src", "connect-src"):
        assert directives[directive][0] == "'self'", directive
    assert not any(
        ":" in source and source != "data:" and source != "blob:"
        for sources in directives.values()
        for source in sources
    ), policy
    assert {name: response.headers.get(name) for name in SECURITY_HEADERS} == SECURITY_HEADERS
