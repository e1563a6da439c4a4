import asyncio
import json
import time
from collections.abc import Iterator

import pytest
import redis
from fastapi.testclient import TestClient

from {{ cookiecutter.package_name }}.core import cache
from {{ cookiecutter.package_name }}.core.cache import REDIS_POOL_SIZE, create_redis


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


def test_a_hung_redis_holds_requests_up_no_longer_than_the_deadline(
    make_client, hung_redis_url: str, answer_within, item_payload, monkeypatch: pytest.MonkeyPatch
):
    deadline = 0.3
    monkeypatch.setattr(cache, "REDIS_DEADLINE_SECONDS", deadline)
    client = make_client(redis_url=hung_redis_url)
    in_time = 2 * deadline + 1.0  # at most two Redis commands per request

    # The create's publish to the Redis hub gives up.
    item = answer_within(in_time, lambda: client.post("/api/v1/items", json=item_payload)).json()
    url = f"/api/v1/items/{item['id']}"
    for request in (
        lambda: client.get(url),  # the cache's GET and SET each give up
        lambda: client.patch(url, json={"price": 5}),  # its invalidation and publish give up
        lambda: client.get(url),
    ):
        assert answer_within(in_time, request).status_code == 200
    assert client.get(url).json()["price"] == 5


def test_a_burst_beyond_the_pool_takes_turns_on_its_connections(redis_client, redis_url: str):
    """Each BLPOP on an empty list holds its connection for 0.3 s: three poolfuls of them
    asked at once run in three turns, rather than each opening a connection of its own."""
    hold_seconds = 0.3

    async def burst() -> float:
        client = create_redis(redis_url)
        try:
            started = time.monotonic()
            await asyncio.gather(
                *(
                    client.blpop(["empty-list"], timeout=hold_seconds)
                    for _ in range(3 * REDIS_POOL_SIZE)
                )
            )
            return time.monotonic() - started
        finally:
            await client.aclose()

    assert asyncio.run(burst()) >= 2.5 * hold_seconds
