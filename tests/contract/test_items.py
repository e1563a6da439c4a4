"""Items: create, read, list, replace, patch, delete, ETags and the NDJSON export."""

import json
import uuid

import pytest

from tests.contract.harness import TIMESTAMP, assert_problem

ITEMS = "/api/v1/items"
ITEM_FIELDS = {
    "id",
    "name",
    "description",
    "price",
    "tags",
    "dimensions",
    "created_at",
    "updated_at",
    "owner_id",  # the contract services run with users and tokens (use_auth)
}


def token() -> str:
    """A marker unique to one test, so tests sharing a database do not see each other."""
    return uuid.uuid4().hex[:12]


def create(client, **fields) -> dict:
    body = {"name": f"item {token()}", "price": 9.5, **fields}
    response = client.post(ITEMS, json=body)
    assert response.status_code == 201, response.text
    return response.json()


def etag_of(client, item_id: int) -> str:
    response = client.get(f"{ITEMS}/{item_id}")
    assert response.status_code == 200
    return response.headers["etag"]


def assert_item_shape(item: dict) -> None:
    assert set(item) == ITEM_FIELDS
    assert isinstance(item["id"], int)
    assert TIMESTAMP.match(item["created_at"]), item["created_at"]
    assert TIMESTAMP.match(item["updated_at"]), item["updated_at"]


# ---- create and read ------------------------------------------------------------------------


def test_create_returns_201_the_item_and_its_location(client):
    body = {
        "name": f"Widget {token()}",
        "description": "A useful widget",
        "price": 19.99,
        "tags": ["tools", "blue"],
        "dimensions": {"width": 1.5, "height": 2, "depth": 0.25},
    }
    response = client.post(ITEMS, json=body)
    assert response.status_code == 201
    assert response.headers["content-type"].startswith("application/json")
    item = response.json()
    assert_item_shape(item)
    assert response.headers["location"] == f"{ITEMS}/{item['id']}"
    assert {key: item[key] for key in body} == body
    assert client.get(response.headers["location"]).json() == item


def test_optional_fields_have_their_defaults(client):
    item = create(client)
    assert item["description"] is None
    assert item["tags"] == []
    assert item["dimensions"] is None


def test_explicit_nulls_are_accepted_for_nullable_fields(client):
    item = create(client, description=None, dimensions=None)
    assert item["description"] is None and item["dimensions"] is None


@pytest.mark.parametrize(
    "fields",
    [
        {"name": "n" * 100},
        {"name": "x"},
        {"description": "d" * 1000},
        {"description": ""},
        {"price": 0},
        {"price": 1_000_000},
        {"price": 12},
        {"tags": [f"t{i}" for i in range(10)]},
        {"tags": ["t" * 30, "u"]},
        {"dimensions": {"width": 0.001, "height": 1e-9, "depth": 1000}},
        {"name": "Ünïcödé 名前 ✓"},
    ],
    ids=[
        "name-100",
        "name-1",
        "description-1000",
        "description-empty",
        "price-0",
        "price-1e6",
        "price-integer",
        "tags-10",
        "tag-30-chars",
        "dimensions-small-positive",
        "unicode-name",
    ],
)
def test_values_at_the_limits_are_accepted(client, fields):
    item = create(client, **fields)
    for key, value in fields.items():
        assert item[key] == value


def test_get_returns_the_item_with_a_strong_etag(client):
    item = create(client)
    response = client.get(f"{ITEMS}/{item['id']}")
    assert response.status_code == 200
    assert response.json() == item
    etag = response.headers["etag"]
    assert etag.startswith(f'"{item["id"]}-') and etag.endswith('"'), etag
    assert not etag.startswith("W/")


def test_get_unknown_item_is_404(client):
    assert_problem(client.get(f"{ITEMS}/987654321"), 404, detail="Item 987654321 not found")


@pytest.mark.parametrize("item_id", ["abc", "1.5", "-1", "0", "1e3", "99999999999999999999999"])
def test_malformed_or_unknown_ids_are_404(client, item_id):
    for method in ("GET", "PUT", "PATCH", "DELETE"):
        kwargs = {"json": {"name": "x", "price": 1}} if method in ("PUT", "PATCH") else {}
        response = client.request(method, f"{ITEMS}/{item_id}", **kwargs)
        assert_problem(response, 404)


@pytest.mark.parametrize("item_id", [2**31, 2**63])
def test_ids_beyond_the_column_range_are_404(client, item_id):
    assert_problem(client.get(f"{ITEMS}/{item_id}"), 404, detail=f"Item {item_id} not found")
    assert_problem(client.delete(f"{ITEMS}/{item_id}"), 404)


# ---- conditional requests -------------------------------------------------------------------


def test_if_none_match_with_the_current_etag_is_304(client):
    item = create(client)
    etag = etag_of(client, item["id"])
    response = client.get(f"{ITEMS}/{item['id']}", headers={"If-None-Match": etag})
    assert response.status_code == 304
    assert response.content == b""
    assert response.headers["etag"] == etag


@pytest.mark.parametrize("header", ['"0-0", {etag}', "W/{etag}", "*"])
def test_if_none_match_lists_weak_tags_and_star_give_304(client, header):
    """If-None-Match uses weak comparison (RFC 9110 13.1.2): W/ prefixes and lists count."""
    item = create(client)
    etag = etag_of(client, item["id"])
    response = client.get(
        f"{ITEMS}/{item['id']}", headers={"If-None-Match": header.format(etag=etag)}
    )
    assert response.status_code == 304


def test_if_none_match_with_a_stale_etag_is_200(client):
    item = create(client)
    stale = etag_of(client, item["id"])
    client.patch(f"{ITEMS}/{item['id']}", json={"price": 1})
    response = client.get(f"{ITEMS}/{item['id']}", headers={"If-None-Match": stale})
    assert response.status_code == 200
    assert response.headers["etag"] != stale


def test_every_write_changes_the_etag(client):
    item = create(client)
    first = etag_of(client, item["id"])
    client.put(f"{ITEMS}/{item['id']}", json={"name": "replaced", "price": 2})
    second = etag_of(client, item["id"])
    client.patch(f"{ITEMS}/{item['id']}", json={"price": 3})
    third = etag_of(client, item["id"])
    assert len({first, second, third}) == 3


@pytest.mark.parametrize(
    ("method", "body"),
    [("PUT", {"name": "changed", "price": 1}), ("PATCH", {"name": "changed"}), ("DELETE", None)],
)
def test_stale_if_match_is_412_and_changes_nothing(client, method, body):
    item = create(client, tags=["keep"])
    stale = etag_of(client, item["id"])
    assert client.patch(f"{ITEMS}/{item['id']}", json={"price": 5}).status_code == 200
    before = client.get(f"{ITEMS}/{item['id']}")
    response = client.request(
        method, f"{ITEMS}/{item['id']}", json=body, headers={"If-Match": stale}
    )
    assert_problem(response, 412)
    after = client.get(f"{ITEMS}/{item['id']}")
    assert after.status_code == 200
    assert after.json() == before.json()
    assert after.headers["etag"] == before.headers["etag"]


@pytest.mark.parametrize("if_match", ["garbage", '"0-0"', '"0-1", "0-2"', "W/x", '""'])
def test_if_match_that_matches_nothing_is_412(client, if_match):
    item = create(client)
    response = client.patch(
        f"{ITEMS}/{item['id']}", json={"price": 7}, headers={"If-Match": if_match}
    )
    assert_problem(response, 412)
    assert client.get(f"{ITEMS}/{item['id']}").json()["price"] == item["price"]


def test_current_if_match_proceeds(client):
    item = create(client)
    etag = etag_of(client, item["id"])
    response = client.patch(f"{ITEMS}/{item['id']}", json={"price": 42}, headers={"If-Match": etag})
    assert response.status_code == 200
    assert response.json()["price"] == 42


def test_if_match_list_containing_the_current_etag_proceeds(client):
    item = create(client)
    etag = etag_of(client, item["id"])
    headers = {"If-Match": f'"0-0", {etag}'}
    response = client.put(
        f"{ITEMS}/{item['id']}", json={"name": "listed", "price": 1}, headers=headers
    )
    assert response.status_code == 200


def test_if_match_star_matches_an_existing_item(client):
    item = create(client)
    response = client.delete(f"{ITEMS}/{item['id']}", headers={"If-Match": "*"})
    assert response.status_code == 204


# ---- replace, patch, delete -----------------------------------------------------------------


def test_put_replaces_the_whole_item(client):
    item = create(
        client,
        description="old",
        tags=["a", "b"],
        dimensions={"width": 1, "height": 1, "depth": 1},
    )
    response = client.put(f"{ITEMS}/{item['id']}", json={"name": "new name", "price": 3.25})
    assert response.status_code == 200
    replaced = response.json()
    assert_item_shape(replaced)
    assert replaced["id"] == item["id"]
    assert replaced["name"] == "new name" and replaced["price"] == 3.25
    assert replaced["description"] is None
    assert replaced["tags"] == []
    assert replaced["dimensions"] is None
    assert replaced["created_at"] == item["created_at"]
    assert replaced["updated_at"] >= item["updated_at"]
    assert client.get(f"{ITEMS}/{item['id']}").json() == replaced


def test_put_follows_the_create_rules(client):
    item = create(client)
    response = client.put(f"{ITEMS}/{item['id']}", json={"name": "no price"})
    assert_problem(response, 422)
    assert ["body", "price"] in [e["loc"] for e in response.json()["errors"]]
    assert client.get(f"{ITEMS}/{item['id']}").json() == item


def test_patch_changes_only_the_fields_given(client):
    item = create(
        client, description="keep me", tags=["x"], dimensions={"width": 1, "height": 2, "depth": 3}
    )
    response = client.patch(f"{ITEMS}/{item['id']}", json={"price": 77.5})
    assert response.status_code == 200
    patched = response.json()
    assert patched["price"] == 77.5
    unchanged = {k: v for k, v in item.items() if k not in ("price", "updated_at")}
    assert {k: patched[k] for k in unchanged} == unchanged
    assert patched["updated_at"] >= item["updated_at"]


def test_patch_can_clear_a_nullable_field(client):
    item = create(client, description="temporary", dimensions={"width": 1, "height": 1, "depth": 1})
    response = client.patch(f"{ITEMS}/{item['id']}", json={"description": None, "dimensions": None})
    assert response.status_code == 200
    assert response.json()["description"] is None
    assert response.json()["dimensions"] is None


def test_patch_can_replace_nested_dimensions(client):
    item = create(client, dimensions={"width": 1, "height": 1, "depth": 1})
    new = {"width": 4, "height": 5, "depth": 6}
    response = client.patch(f"{ITEMS}/{item['id']}", json={"dimensions": new})
    assert response.status_code == 200
    assert response.json()["dimensions"] == new


@pytest.mark.parametrize(
    ("body", "loc"),
    [
        ({"name": None}, ["body", "name"]),
        ({"name": ""}, ["body", "name"]),
        ({"price": -0.01}, ["body", "price"]),
        ({"tags": [""]}, ["body", "tags", 0]),
        ({"dimensions": {"width": 1, "height": 0, "depth": 1}}, ["body", "dimensions", "height"]),
        ({"colour": "red"}, ["body", "colour"]),
    ],
    ids=["null-name", "empty-name", "negative-price", "empty-tag", "zero-height", "unknown-field"],
)
def test_invalid_patch_is_422_and_changes_nothing(client, body, loc):
    item = create(client)
    response = client.patch(f"{ITEMS}/{item['id']}", json=body)
    assert_problem(response, 422)
    assert loc in [e["loc"] for e in response.json()["errors"]]
    assert client.get(f"{ITEMS}/{item['id']}").json() == item


def test_delete_is_204_and_the_item_is_gone(client):
    item = create(client)
    response = client.delete(f"{ITEMS}/{item['id']}")
    assert response.status_code == 204
    assert response.content == b""
    assert_problem(client.get(f"{ITEMS}/{item['id']}"), 404, detail=f"Item {item['id']} not found")
    assert_problem(client.delete(f"{ITEMS}/{item['id']}"), 404)
    assert_problem(client.patch(f"{ITEMS}/{item['id']}", json={"price": 1}), 404)
    assert_problem(client.put(f"{ITEMS}/{item['id']}", json={"name": "x", "price": 1}), 404)


def test_writes_are_visible_from_every_worker(service):
    """Each request on a fresh connection: gunicorn spreads them over the workers."""
    with service.client() as http:
        item = create(http)
    for price in (1, 2, 3, 4):
        with service.client() as http:
            assert http.patch(f"{ITEMS}/{item['id']}", json={"price": price}).status_code == 200
        for _ in range(3):
            with service.client() as http:
                assert http.get(f"{ITEMS}/{item['id']}").json()["price"] == price
    with service.client() as http:
        assert http.delete(f"{ITEMS}/{item['id']}").status_code == 204
    for _ in range(4):
        with service.client() as http:
            assert http.get(f"{ITEMS}/{item['id']}").status_code == 404


# ---- list -----------------------------------------------------------------------------------


def test_list_shape_and_defaults(client):
    create(client)
    response = client.get(ITEMS)
    assert response.status_code == 200
    page = response.json()
    assert set(page) == {"items", "total", "limit", "offset"}
    assert page["limit"] == 20 and page["offset"] == 0
    assert isinstance(page["total"], int) and page["total"] >= 1
    assert len(page["items"]) == min(20, page["total"])
    for item in page["items"]:
        assert_item_shape(item)


def test_list_is_ordered_by_id_and_paginates(client):
    tok = token()
    created = [create(client, name=f"page {tok} {n}")["id"] for n in range(5)]
    first = client.get(ITEMS, params={"q": tok, "limit": 2}).json()
    assert first["total"] == 5 and first["limit"] == 2 and first["offset"] == 0
    assert [i["id"] for i in first["items"]] == created[:2]
    middle = client.get(ITEMS, params={"q": tok, "limit": 2, "offset": 2}).json()
    assert [i["id"] for i in middle["items"]] == created[2:4]
    assert middle["offset"] == 2 and middle["total"] == 5
    last = client.get(ITEMS, params={"q": tok, "limit": 2, "offset": 4}).json()
    assert [i["id"] for i in last["items"]] == created[4:]
    beyond = client.get(ITEMS, params={"q": tok, "offset": 50}).json()
    assert beyond["items"] == [] and beyond["total"] == 5
    everything = client.get(ITEMS, params={"q": tok, "limit": 100}).json()
    assert [i["id"] for i in everything["items"]] == created


def test_list_whole_table_is_in_id_order(client):
    for _ in range(3):
        create(client)
    page = client.get(ITEMS, params={"limit": 100}).json()
    ids = [i["id"] for i in page["items"]]
    assert ids == sorted(ids)


def test_q_is_a_case_insensitive_substring_of_the_name(client):
    tok = token()
    hit = create(client, name=f"Blue Lamp {tok}")
    create(client, name=f"Red Chair {tok}", description=f"blue lamp {tok}")
    page = client.get(ITEMS, params={"q": f"blue LAMP {tok.upper()}"}).json()
    assert [i["id"] for i in page["items"]] == [hit["id"]]
    assert page["total"] == 1


@pytest.mark.parametrize(("needle", "decoy"), [("%", "x"), ("_", "x"), ("\\", "x")])
def test_q_wildcard_characters_match_literally(client, needle, decoy):
    tok = token()
    hit = create(client, name=f"{tok}a{needle}b")
    create(client, name=f"{tok}a{decoy}b")
    create(client, name=f"{tok}ab")
    page = client.get(ITEMS, params={"q": f"{tok}a{needle}b"}).json()
    assert [i["id"] for i in page["items"]] == [hit["id"]]


def test_tag_filter_matches_whole_tags_only(client):
    tok = token()
    red = create(client, tags=[f"red{tok}", "common"])
    create(client, tags=[f"red{tok}dark"])
    create(client, tags=[f"RED{tok}"])
    also_red = create(client, tags=["other", f"red{tok}"])
    page = client.get(ITEMS, params={"tag": f"red{tok}"}).json()
    assert [i["id"] for i in page["items"]] == [red["id"], also_red["id"]]
    assert page["total"] == 2


@pytest.mark.parametrize("tag", ['say "hi"', "naïve ☕", "a,b", "50%", "back\\slash", "[1]"])
def test_tag_filter_with_special_characters(client, tag):
    tok = token()
    hit = create(client, name=f"special {tok}", tags=[tag])
    create(client, name=f"special {tok}", tags=[tag + "x"])
    page = client.get(ITEMS, params={"tag": tag, "q": tok}).json()
    assert [i["id"] for i in page["items"]] == [hit["id"]]


def test_q_and_tag_combine(client):
    tok = token()
    both = create(client, name=f"lamp {tok}", tags=["sale"])
    create(client, name=f"lamp {tok}", tags=["new"])
    create(client, name=f"chair {tok}", tags=["sale"])
    page = client.get(ITEMS, params={"q": f"lamp {tok}", "tag": "sale"}).json()
    assert [i["id"] for i in page["items"]] == [both["id"]]


def test_limit_bounds_are_inclusive(client):
    assert client.get(ITEMS, params={"limit": 1}).json()["limit"] == 1
    assert client.get(ITEMS, params={"limit": 100}).json()["limit"] == 100
    assert client.get(ITEMS, params={"offset": 0}).json()["offset"] == 0


# ---- export ---------------------------------------------------------------------------------


def test_export_streams_every_item_as_ndjson(client):
    created = [create(client, tags=["export"]) for _ in range(3)]
    with client.stream("GET", f"{ITEMS}/export") as response:
        assert response.status_code == 200
        assert response.headers["content-type"].split(";")[0] == "application/x-ndjson"
        # Streamed, not built in memory first: no length known up front.
        assert "content-length" not in response.headers
        assert response.headers.get("transfer-encoding") == "chunked"
        lines = [line for line in response.iter_lines() if line]
    items = [json.loads(line) for line in lines]
    for item in items:
        assert_item_shape(item)
    ids = [item["id"] for item in items]
    assert ids == sorted(ids)
    by_id = {item["id"]: item for item in items}
    for item in created:
        assert by_id[item["id"]] == item
    assert len(items) == client.get(ITEMS, params={"limit": 1}).json()["total"]


def test_export_lines_are_single_json_objects(client):
    create(client, name=f"line\nbreak {token()}", description="tab\tand\r\nnewline")
    body = client.get(f"{ITEMS}/export").text
    assert body.endswith("\n")
    for line in body.splitlines():
        assert isinstance(json.loads(line), dict)
