"""Redis cache-aside for item reads, against a real Redis (TEST_REDIS_URL)."""

import json

import pytest
import redis


@pytest.fixture
def cached_app(make_app, redis_url):
    return make_app(REDIS_URL=redis_url)


@pytest.fixture
def store(redis_url):
    return redis.Redis.from_url(redis_url)


def test_read_populates_and_write_invalidates(cached_app, store{% if cookiecutter.use_auth %}, authorize{% endif %}):
    client = cached_app.test_client()
{%- if cookiecutter.use_auth %}
    authorize(client)
{%- endif %}
    item = client.post("/api/v1/items", json={"name": "Kettle", "price": 25}).json
    key = f"item:{item['id']}"
    assert store.get(key) is None

    first = client.get(f"/api/v1/items/{item['id']}")
    etag, body = store.get(key).split(b"\n", 1)
    assert json.loads(body) == first.json
    assert etag.decode() == first.headers["ETag"]
    assert 0 < store.ttl(key) <= cached_app.config["CACHE_TTL_SECONDS"]

    client.patch(f"/api/v1/items/{item['id']}", json={"price": 30})
    assert store.get(key) is None
    second = client.get(f"/api/v1/items/{item['id']}")
    assert second.json["price"] == 30
    assert second.headers["ETag"] != first.headers["ETag"]

    client.delete(f"/api/v1/items/{item['id']}")
    assert store.get(key) is None
    assert client.get(f"/api/v1/items/{item['id']}").status_code == 404


def test_reads_are_served_from_the_cache(cached_app, store{% if cookiecutter.use_auth %}, authorize{% endif %}):
    client = cached_app.test_client()
{%- if cookiecutter.use_auth %}
    authorize(client)
{%- endif %}
    item = client.post("/api/v1/items", json={"name": "Kettle", "price": 25}).json
    client.get(f"/api/v1/items/{item['id']}")
    # Change the cached copy behind the service's back: the next read must return it.
    store.set(f"item:{item['id']}", b'"7-9"\n{"name": "From the cache"}')
    hit = client.get(f"/api/v1/items/{item['id']}")
    assert hit.json == {"name": "From the cache"}
    assert hit.headers["ETag"] == '"7-9"'


def test_redis_down_still_serves(make_app{% if cookiecutter.use_auth %}, authorize{% endif %}):
    client = make_app(REDIS_URL="redis://127.0.0.1:1/0").test_client()
{%- if cookiecutter.use_auth %}
    authorize(client)
{%- endif %}
    item = client.post("/api/v1/items", json={"name": "Kettle", "price": 25}).json
    response = client.get(f"/api/v1/items/{item['id']}")
    assert response.status_code == 200
    assert response.json == item
    assert client.patch(f"/api/v1/items/{item['id']}", json={"price": 1}).status_code == 200
