import json

import pytest
import sqlalchemy

from {{ cookiecutter.package_name }}.services import items as service

ITEM = {
    "name": "Desk lamp",
    "description": "Warm light",
    "price": 39.5,
    "tags": ["home", "light"],
    "dimensions": {"width": 12, "height": 40, "depth": 12},
}


def create(client, **fields):
    response = client.post("/api/v1/items", json={**ITEM, **fields})
    assert response.status_code == 201, response.json
    return response


def test_create_returns_the_item_with_location_and_etag(client):
    response = create(client)
    item = response.json
    assert response.headers["Location"] == f"/api/v1/items/{item['id']}"
    assert response.headers["ETag"] == f'"{item["id"]}-1"'
    assert {field: item[field] for field in ITEM} == ITEM
    assert item["created_at"].endswith("Z") and len(item["created_at"]) == 27
    assert item["created_at"] == item["updated_at"]


def test_defaults_for_optional_fields(client):
    item = client.post("/api/v1/items", json={"name": "Pen", "price": 2}).json
    assert item["description"] is None
    assert item["tags"] == []
    assert item["dimensions"] is None


def test_get_put_patch_delete(client):
    item_id = create(client).json["id"]
    url = f"/api/v1/items/{item_id}"

    fetched = client.get(url)
    assert fetched.status_code == 200
    assert fetched.json["name"] == ITEM["name"]
    assert fetched.headers["ETag"] == f'"{item_id}-1"'

    replaced = client.put(url, json={"name": "Floor lamp", "price": 80})
    assert replaced.status_code == 200
    assert replaced.json["name"] == "Floor lamp"
    assert replaced.json["tags"] == []  # PUT replaces every field
    assert replaced.json["dimensions"] is None
    assert replaced.headers["ETag"] == f'"{item_id}-2"'

    patched = client.patch(url, json={"price": 75.25})
    assert patched.status_code == 200
    assert patched.json["price"] == 75.25
    assert patched.json["name"] == "Floor lamp"  # PATCH leaves the rest alone
    assert patched.json["updated_at"] > patched.json["created_at"]

    assert client.delete(url).status_code == 204
    missing = client.get(url)
    assert missing.status_code == 404
    assert missing.json["detail"] == f"Item {item_id} not found"


def test_patch_takes_dimensions_whole(client):
    url = f"/api/v1/items/{create(client).json['id']}"
    part = client.patch(url, json={"dimensions": {"width": 2}})
    assert part.status_code == 422
    assert ["body", "dimensions", "height"] in [error["loc"] for error in part.json["errors"]]
    whole = {"width": 2, "height": 1, "depth": 0.5}
    assert client.patch(url, json={"dimensions": whole}).json["dimensions"] == whole


@pytest.mark.parametrize("method", ["get", "put", "patch", "delete"])
def test_unknown_or_non_integer_id_is_404(client, method):
    for url in ("/api/v1/items/999999", "/api/v1/items/abc", "/api/v1/items/99999999999999999999"):
        response = getattr(client, method)(url, json={"name": "x", "price": 1})
        assert response.status_code == 404, url
        assert response.mimetype == "application/problem+json"


def test_list_paginates_in_id_order(client):
    ids = [create(client, name=f"Item {n}").json["id"] for n in range(5)]
    page = client.get("/api/v1/items?limit=2&offset=1").json
    assert page["total"] == 5
    assert page["limit"] == 2 and page["offset"] == 1
    assert [item["id"] for item in page["items"]] == ids[1:3]

    default = client.get("/api/v1/items").json
    assert default["limit"] == 20 and default["offset"] == 0
    assert [item["id"] for item in default["items"]] == ids


def test_list_filters_by_name_and_tag(client):
    create(client, name="Red Chair", tags=["furniture", "red"])
    create(client, name="chair cushion", tags=["textile"])
    create(client, name="Table 100%", tags=["furniture"])

    by_name = client.get("/api/v1/items?q=CHAIR").json
    assert sorted(item["name"] for item in by_name["items"]) == ["Red Chair", "chair cushion"]
    assert by_name["total"] == 2

    by_tag = client.get("/api/v1/items?tag=furniture").json
    assert sorted(item["name"] for item in by_tag["items"]) == ["Red Chair", "Table 100%"]

    both = client.get("/api/v1/items?q=chair&tag=furniture").json
    assert [item["name"] for item in both["items"]] == ["Red Chair"]

    # LIKE wildcards in q are matched literally.
    assert [i["name"] for i in client.get("/api/v1/items?q=%25").json["items"]] == ["Table 100%"]
    assert client.get("/api/v1/items?q=_").json["total"] == 0
    assert client.get("/api/v1/items?tag=fur").json["total"] == 0


@pytest.mark.parametrize(
    "query, loc",
    [
        ("limit=0", ["query", "limit"]),
        ("limit=101", ["query", "limit"]),
        ("limit=ten", ["query", "limit"]),
        ("offset=-1", ["query", "offset"]),
    ],
)
def test_list_rejects_bad_paging(client, query, loc):
    response = client.get(f"/api/v1/items?{query}")
    assert response.status_code == 422
    assert [error["loc"] for error in response.json["errors"]] == [loc]


def test_if_none_match_gives_304(client):
    item_id = create(client).json["id"]
    etag = client.get(f"/api/v1/items/{item_id}").headers["ETag"]

    not_modified = client.get(f"/api/v1/items/{item_id}", headers={"If-None-Match": etag})
    assert not_modified.status_code == 304
    assert not_modified.data == b""
    assert not_modified.headers["ETag"] == etag

    changed = client.get(f"/api/v1/items/{item_id}", headers={"If-None-Match": '"0-0"'})
    assert changed.status_code == 200


def test_stale_if_match_gives_412_and_changes_nothing(client):
    item_id = create(client).json["id"]
    url = f"/api/v1/items/{item_id}"
    stale = f'"{item_id}-0"'
    for response in (
        client.put(url, json={"name": "New", "price": 1}, headers={"If-Match": stale}),
        client.patch(url, json={"name": "New"}, headers={"If-Match": stale}),
        client.delete(url, headers={"If-Match": stale}),
    ):
        assert response.status_code == 412
        assert response.mimetype == "application/problem+json"
        assert "If-Match" in response.json["detail"]
    current = client.get(url)
    assert current.json["name"] == ITEM["name"]
    assert current.headers["ETag"] == f'"{item_id}-1"'


def test_matching_if_match_proceeds(client):
    item_id = create(client).json["id"]
    url = f"/api/v1/items/{item_id}"
    etag = client.get(url).headers["ETag"]
    patched = client.patch(url, json={"name": "Renamed"}, headers={"If-Match": f'"x", {etag}'})
    assert patched.status_code == 200
    assert client.patch(url, json={"price": 3}, headers={"If-Match": "*"}).status_code == 200
    assert client.delete(url, headers={"If-Match": etag}).status_code == 412  # now stale
    assert client.delete(url).status_code == 204


def test_export_streams_ndjson(client):
    names = [f"Item {n}" for n in range(3)]
    for name in names:
        create(client, name=name)
    response = client.get("/api/v1/items/export")
    assert response.status_code == 200
    assert response.mimetype == "application/x-ndjson"
    assert response.is_streamed
    lines = response.get_data(as_text=True).splitlines()
    assert [json.loads(line)["name"] for line in lines] == names


def write_behind_the_service(database_url: str, item_id: int) -> None:
    """Another writer's change to the item, committed at once."""
    engine = sqlalchemy.create_engine(database_url)
    with engine.begin() as connection:
        rival = "UPDATE items SET version = version + 1, name = 'rival' WHERE id = :id"
        connection.execute(sqlalchemy.text(rival), {"id": item_id})
    engine.dispose()


@pytest.fixture
def rival_write(monkeypatch, database_url):
    """Make the next item write lose a race: another write lands after the item was read."""
    raced = []
    for name in ("update_item", "delete_item"):
        original = getattr(service, name)

        def racing(item, *args, _original=original):
            if not raced:
                raced.append(item.id)
                write_behind_the_service(database_url, item.id)
            return _original(item, *args)

        monkeypatch.setattr(service, name, racing)
    return raced


def test_a_write_without_if_match_that_loses_a_race_still_wins(client, rival_write):
    item = create(client).json
    url = f"/api/v1/items/{item['id']}"

    response = client.patch(url, json={"price": 7})

    assert rival_write == [item["id"]]
    assert response.status_code == 200, response.json
    assert response.json["price"] == 7
    assert response.json["name"] == "rival"  # the rival's change, then ours on top
    assert response.headers["ETag"] == f'"{item["id"]}-3"'


def test_a_delete_without_if_match_that_loses_a_race_still_deletes(client, rival_write):
    item = create(client).json
    url = f"/api/v1/items/{item['id']}"

    assert client.delete(url).status_code == 204
    assert rival_write == [item["id"]]
    assert client.get(url).status_code == 404


def test_a_write_with_if_match_that_loses_a_race_is_412(client, rival_write):
    item = create(client).json
    url = f"/api/v1/items/{item['id']}"

    read_before_the_race = {"If-Match": f'"{item["id"]}-1"'}
    response = client.put(url, json={"name": "mine", "price": 2}, headers=read_before_the_race)

    assert rival_write == [item["id"]]
    assert response.status_code == 412
    assert client.get(url).json["name"] == "rival"
