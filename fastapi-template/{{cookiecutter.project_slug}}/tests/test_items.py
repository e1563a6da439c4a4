import json
import re

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text

from {{ cookiecutter.package_name }}.api.routes import items
from {{ cookiecutter.package_name }}.core.db import create_sync_engine
from {{ cookiecutter.package_name }}.services.items import ItemService

TIMESTAMP = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$")


def test_create_returns_the_item_with_location_and_etag(client: TestClient, item_payload):
    response = client.post("/api/v1/items", json=item_payload)

    assert response.status_code == 201
    item = response.json()
    assert response.headers["location"] == f"/api/v1/items/{item['id']}"
    assert response.headers["etag"] == f'"{item["id"]}-1"'
    assert {key: item[key] for key in item_payload} == item_payload | {
        "dimensions": {"width": 12.5, "height": 40.0, "depth": 12.5}
    }
    assert TIMESTAMP.match(item["created_at"])
    assert TIMESTAMP.match(item["updated_at"])


def test_optional_fields_default(client: TestClient):
    item = client.post("/api/v1/items", json={"name": "Pen", "price": 0}).json()

    assert item["description"] is None
    assert item["tags"] == []
    assert item["dimensions"] is None


def test_get_returns_the_item_with_its_etag(client: TestClient, create_item):
    created = create_item()

    response = client.get(f"/api/v1/items/{created['id']}")

    assert response.status_code == 200
    assert response.json() == created
    assert response.headers["etag"] == f'"{created["id"]}-1"'


def test_if_none_match_with_the_current_etag_gives_304(client: TestClient, create_item):
    item_id = create_item()["id"]
    etag = client.get(f"/api/v1/items/{item_id}").headers["etag"]

    assert (
        client.get(f"/api/v1/items/{item_id}", headers={"If-None-Match": etag}).status_code == 304
    )
    stale = client.get(f"/api/v1/items/{item_id}", headers={"If-None-Match": '"0-0"'})
    assert stale.status_code == 200


def test_list_paginates_in_id_order(client: TestClient, create_item):
    ids = [create_item(name=f"item {n}")["id"] for n in range(5)]

    page = client.get("/api/v1/items", params={"limit": 2, "offset": 1}).json()

    assert [item["id"] for item in page["items"]] == ids[1:3]
    assert (page["total"], page["limit"], page["offset"]) == (5, 2, 1)
    assert client.get("/api/v1/items").json()["limit"] == 20


def test_list_filters_by_name_substring_case_insensitively(client: TestClient, create_item):
    create_item(name="Red Chair")
    create_item(name="chair, blue")
    create_item(name="Table")
    create_item(name="100% cotton")

    names = [item["name"] for item in client.get("/api/v1/items?q=CHAIR").json()["items"]]
    assert names == ["Red Chair", "chair, blue"]
    # LIKE wildcards in q are matched literally.
    percent = client.get("/api/v1/items", params={"q": "0%"}).json()
    assert [item["name"] for item in percent["items"]] == ["100% cotton"]
    assert client.get("/api/v1/items", params={"q": "_"}).json()["total"] == 0


def test_list_filters_by_tag(client: TestClient, create_item):
    create_item(name="a", tags=["red", "sale"])
    create_item(name="b", tags=["blue"])
    create_item(name="c", tags=["reddish"])

    page = client.get("/api/v1/items", params={"tag": "red"}).json()

    assert [item["name"] for item in page["items"]] == ["a"]
    assert page["total"] == 1


def test_put_replaces_the_whole_item(client: TestClient, create_item):
    item = create_item()

    response = client.put(f"/api/v1/items/{item['id']}", json={"name": "Lamp", "price": 10})

    assert response.status_code == 200
    replaced = response.json()
    assert replaced["name"] == "Lamp"
    assert replaced["description"] is None
    assert replaced["tags"] == []
    assert replaced["created_at"] == item["created_at"]
    assert response.headers["etag"] == f'"{item["id"]}-2"'


def test_patch_changes_only_the_given_fields(client: TestClient, create_item):
    item = create_item()

    response = client.patch(f"/api/v1/items/{item['id']}", json={"price": 12.25})

    assert response.status_code == 200
    assert response.json() == item | {"price": 12.25, "updated_at": response.json()["updated_at"]}
    assert response.json()["updated_at"] > item["updated_at"]


def test_delete_removes_the_item(client: TestClient, create_item):
    item_id = create_item()["id"]

    response = client.delete(f"/api/v1/items/{item_id}")

    assert response.status_code == 204
    assert response.content == b""
    assert client.get(f"/api/v1/items/{item_id}").status_code == 404


def test_writes_with_a_stale_if_match_give_412_and_change_nothing(client: TestClient, create_item):
    item = create_item()
    url = f"/api/v1/items/{item['id']}"
    stale = {"If-Match": f'"{item["id"]}-99"'}

    assert client.put(url, json={"name": "x", "price": 1}, headers=stale).status_code == 412
    assert client.patch(url, json={"name": "x"}, headers=stale).status_code == 412
    assert client.delete(url, headers=stale).status_code == 412
    assert client.get(url).json() == item


def test_writes_with_a_matching_if_match_proceed(client: TestClient, create_item):
    item = create_item()
    url = f"/api/v1/items/{item['id']}"

    etag = client.get(url).headers["etag"]
    response = client.patch(url, json={"name": "v2"}, headers={"If-Match": f'"0-0", {etag}'})
    assert response.status_code == 200
    # The old ETag is stale now; `*` matches whatever the current one is.
    assert client.patch(url, json={"name": "v3"}, headers={"If-Match": etag}).status_code == 412
    assert client.delete(url, headers={"If-Match": "*"}).status_code == 204


def test_export_streams_one_item_per_line(client: TestClient, create_item):
    created = [create_item(name=f"item {n}") for n in range(3)]

    response = client.get("/api/v1/items/export")

    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/x-ndjson")
    lines = response.text.splitlines()
    assert [json.loads(line) for line in lines] == created


def test_export_of_an_empty_table_is_empty(client: TestClient):
    response = client.get("/api/v1/items/export")

    assert response.status_code == 200
    assert response.text == ""


def write_behind_the_service(database_url: str, item_id: int) -> None:
    """Another writer's change to the item, committed at once."""
    engine = create_sync_engine(database_url)
    with engine.begin() as connection:
        rival = "UPDATE items SET version = version + 1, name = 'rival' WHERE id = :id"
        connection.execute(text(rival), {"id": item_id})
    engine.dispose()


@pytest.fixture
def rival_write(monkeypatch, database_url: str) -> list[int]:
    """Make the next item write lose a race: another write lands after the item was read."""
    raced: list[int] = []
    for name in ("update", "delete"):
        original = getattr(ItemService, name)

        async def racing(self, item, *args, _original=original):
            if not raced:
                raced.append(item.id)
                write_behind_the_service(database_url, item.id)
            return await _original(self, item, *args)

        monkeypatch.setattr(ItemService, name, racing)
    return raced


def test_a_write_without_if_match_that_loses_a_race_still_wins(
    client: TestClient, create_item, rival_write
):
    item = create_item()
    url = f"/api/v1/items/{item['id']}"

    response = client.patch(url, json={"price": 7})

    assert rival_write == [item["id"]]
    assert response.status_code == 200, response.text
    assert response.json()["price"] == 7
    assert response.json()["name"] == "rival"  # the rival's change, then ours on top
    assert response.headers["etag"] == f'"{item["id"]}-3"'


def test_a_delete_without_if_match_that_loses_a_race_still_deletes(
    client: TestClient, create_item, rival_write
):
    item = create_item()
    url = f"/api/v1/items/{item['id']}"

    assert client.delete(url).status_code == 204
    assert rival_write == [item["id"]]
    assert client.get(url).status_code == 404


def test_a_write_with_if_match_that_loses_a_race_is_412(
    client: TestClient, create_item, rival_write
):
    item = create_item()
    url = f"/api/v1/items/{item['id']}"

    read_before_the_race = {"If-Match": f'"{item["id"]}-1"'}
    response = client.put(url, json={"name": "mine", "price": 2}, headers=read_before_the_race)

    assert rival_write == [item["id"]]
    assert response.status_code == 412
    assert client.get(url).json()["name"] == "rival"


def test_the_item_read_is_the_first_route_its_router_tries():
    """FastAPI tries an included router's routes in order, each at a cost to every request
    that reaches it: the busiest one goes first."""
    first = items.router.routes[0]
    assert (first.path, first.methods) == ("/api/v1/items/{item_id:int}", {"GET"})
