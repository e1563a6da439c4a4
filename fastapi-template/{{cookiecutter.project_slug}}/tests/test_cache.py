import json
from collections.abc import Iterator

import pytest
import redis
from fastapi.testclient import TestClient


@pytest.fixture
def redis_client(redis_url: str) -> Iterator[redis.Redis]:
    client = redis.Redis.from_url(redis_url)
    client.flushdb()
    yield client
    client.flushdb()
    client.close()


@pytest.fixture
def cached_client(make_client, redis_client, redis_url: str) -> TestClient:
    return make_client(redis_url=redis_url, cache_ttl_seconds=30)


def test_a_read_populates_the_cache(cached_client: TestClient, redis_client, item_payload):
    item = cached_client.post("/api/v1/items", json=item_payload).json()
    key = f"item:{item['id']}"
    assert redis_client.get(key) is None

    first = cached_client.get(f"/api/v1/items/{item['id']}")
    etag, body = redis_client.get(key).split(b"\n", 1)
    second = cached_client.get(f"/api/v1/items/{item['id']}")

    assert etag.decode() == first.headers["etag"]
    assert json.loads(body) == item
    assert 0 < redis_client.ttl(key) <= 30
    assert second.json() == first.json() == item
    assert second.headers["etag"] == first.headers["etag"]


def test_a_hit_is_served_from_the_cache(cached_client: TestClient, redis_client, item_payload):
    item = cached_client.post("/api/v1/items", json=item_payload).json()
    url = f"/api/v1/items/{item['id']}"
    cached_client.get(url)
    redis_client.set(f"item:{item['id']}", b'"7-9"\n{"from": "cache"}', ex=30)

    hit = cached_client.get(url)

    assert hit.json() == {"from": "cache"}
    assert hit.headers["etag"] == '"7-9"'


def test_every_write_invalidates(cached_client: TestClient, redis_client, item_payload):
    item = cached_client.post("/api/v1/items", json=item_payload).json()
    url, key = f"/api/v1/items/{item['id']}", f"item:{item['id']}"

    for write in (
        lambda: cached_client.put(url, json={"name": "replaced", "price": 2}),
        lambda: cached_client.patch(url, json={"price": 3}),
    ):
        cached_client.get(url)
        assert redis_client.exists(key)
        write()
        assert not redis_client.exists(key)
        assert cached_client.get(url).json()["price"] in (2, 3)

    cached_client.get(url)
    cached_client.delete(url)
    assert not redis_client.exists(key)
    assert cached_client.get(url).status_code == 404


def test_a_redis_outage_bypasses_the_cache(make_client, item_payload):
    client = make_client(redis_url="redis://127.0.0.1:1/0")

    item = client.post("/api/v1/items", json=item_payload).json()
    url = f"/api/v1/items/{item['id']}"

    assert client.get(url).json() == item
    assert client.patch(url, json={"price": 5}).status_code == 200
    assert client.get(url).json()["price"] == 5
    assert client.delete(url).status_code == 204
