"""Operations: /health, /ready, /metrics, /openapi.json, /docs and /redoc with local assets."""

import re
import uuid
from html.parser import HTMLParser
from urllib.parse import urljoin, urlparse

import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.contract.harness import wait_until

ITEM_ROUTE = "/api/v1/items/{item_id}"


def test_health(client):
    response = client.get("/health")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


def test_ready_reports_every_check(service, client):
    response = client.get("/ready")
    assert response.status_code == 200, response.text
    expected_redis = "ok" if service.redis_url else "disabled"
    assert response.json() == {
        "status": "ok",
        "checks": {"database": "ok", "redis": expected_redis, "model": "ok"},
        # several workers: rooms span them through Redis, or stay within each process
        "realtime": "redis" if service.redis_url else "local",
    }


def test_rooms_split_per_process_are_warned_about_at_start(service):
    warned = "REDIS_URL" in service.server.log() and "rooms" in service.server.log()
    assert warned is (service.redis_url is None), service.server.log_tail()


# ---- metrics --------------------------------------------------------------------------------


def request_counts(client) -> dict[tuple[str, str, str], float]:
    response = client.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    counts: dict[tuple[str, str, str], float] = {}
    for family in text_string_to_metric_families(response.text):
        for sample in family.samples:
            if sample.name == "http_requests_total":
                key = (sample.labels["method"], sample.labels["route"], sample.labels["status"])
                counts[key] = counts.get(key, 0) + sample.value
    return counts


def test_metrics_count_requests_by_route_template(client):
    created = client.post("/api/v1/items", json={"name": "metered", "price": 1}).json()
    client.get(f"/api/v1/items/{created['id']}")
    counts = request_counts(client)
    assert counts.get(("GET", ITEM_ROUTE, "200"), 0) >= 1, sorted(counts)
    assert counts.get(("POST", "/api/v1/items", "201"), 0) >= 1, sorted(counts)
    assert not any(route == f"/api/v1/items/{created['id']}" for _, route, _ in counts)


def test_metrics_label_unmatched_routes(client):
    client.get(f"/no-such-route-{uuid.uuid4().hex}")
    counts = request_counts(client)
    assert counts.get(("GET", "<unmatched>", "404"), 0) >= 1, sorted(counts)
    assert not any(route.startswith("/no-such-route") for _, route, _ in counts)


def test_metrics_are_exact_across_worker_processes(service, client):
    """N requests on N fresh connections land on both workers; the count rises by exactly N."""
    key = ("GET", ITEM_ROUTE, "404")
    before = request_counts(client).get(key, 0)
    requests = 12
    for _ in range(requests):
        with service.client() as http:
            assert http.get("/api/v1/items/987654321").status_code == 404
    after = wait_until(
        lambda: (c := request_counts(client).get(key, 0)) >= before + requests and c, 5
    )
    assert after == before + requests


def test_metrics_include_latency_histograms(client):
    client.get("/health")
    text = client.get("/metrics").text
    families = {family.name: family for family in text_string_to_metric_families(text)}
    histogram = families["http_request_duration_seconds"]
    assert histogram.type == "histogram"
    labels = {tuple(sorted(s.labels)) for s in histogram.samples if s.name.endswith("_count")}
    assert ("method", "route", "status") in labels


# ---- OpenAPI and docs -----------------------------------------------------------------------


def test_openapi_is_openapi_3_and_lists_the_api(client):
    response = client.get("/openapi.json")
    assert response.status_code == 200
    spec = response.json()
    assert re.match(r"^3\.\d+\.\d+$", spec["openapi"])
    assert spec["info"]["title"]
    paths = spec["paths"]
    assert {"get", "post"} <= set(paths["/api/v1/items"])
    item_paths = [p for p in paths if re.fullmatch(r"/api/v1/items/\{[a-z_]+\}", p)]
    assert len(item_paths) == 1, list(paths)
    assert {"get", "put", "patch", "delete"} <= set(paths[item_paths[0]])
    assert "get" in paths["/api/v1/items/export"]
    assert "get" in paths["/api/v1/models"]
    assert "post" in paths["/api/v1/models/digits/predict"]
    assert "post" in paths["/api/v1/jobs/predictions"]
    assert any(re.fullmatch(r"/api/v1/jobs/\{[a-z_]+\}", p) for p in paths)


class AssetCollector(HTMLParser):
    """Every URL a page loads by itself: scripts, stylesheets, icons, images."""

    def __init__(self):
        super().__init__()
        self.urls: list[str] = []

    def handle_starttag(self, tag, attrs):
        attributes = dict(attrs)
        if tag in ("script", "img", "iframe") and attributes.get("src"):
            self.urls.append(attributes["src"])
        if tag == "link" and attributes.get("href"):
            self.urls.append(attributes["href"])


@pytest.mark.parametrize("page", ["/docs", "/redoc"])
def test_docs_pages_use_only_local_assets(client, page):
    response = client.get(page)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    html = response.text
    collector = AssetCollector()
    collector.feed(html)
    assert collector.urls, "the page loads no assets"
    scripts = [url for url in collector.urls if url.endswith(".js")]
    assert scripts, collector.urls
    for url in collector.urls:
        parsed = urlparse(url)
        assert not parsed.scheme and not parsed.netloc, f"external asset {url}"
        path = urljoin(page, url)
        assert path.startswith("/static/docs/"), url
        asset = client.get(path)
        assert asset.status_code == 200, path
        assert asset.content
    for external in ("http://", "https://", "//cdn", "fonts.googleapis", "unpkg", "jsdelivr"):
        assert external not in html.replace("http://www.w3.org", ""), external
    assert "/openapi.json" in html


@pytest.mark.parametrize(
    ("asset", "media"),
    [
        ("swagger-ui-bundle.js", "javascript"),
        ("swagger-ui-standalone-preset.js", "javascript"),
        ("swagger-ui.css", "text/css"),
        ("redoc.standalone.js", "javascript"),
        ("favicon-32x32.png", "image/png"),
    ],
)
def test_static_docs_assets_are_served(client, asset, media):
    response = client.get(f"/static/docs/{asset}")
    assert response.status_code == 200
    assert media in response.headers["content-type"]
    assert len(response.content) > 100
