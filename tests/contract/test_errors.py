"""Every error is an RFC 9457 problem with the shared title, detail and `errors` shape."""

import socket
import uuid

import pytest

from tests.contract.harness import (
    MAX_BODY_BYTES,
    ROUTE_NOT_FOUND,
    assert_problem,
    assert_validation_error,
    error_locs,
)

ITEMS = "/api/v1/items"


def valid_item(**overrides) -> dict:
    return {"name": f"errors {uuid.uuid4().hex[:8]}", "price": 1.0, **overrides}


@pytest.fixture
def item(client) -> dict:
    response = client.post(ITEMS, json=valid_item())
    assert response.status_code == 201
    return response.json()


# ---- 404 and 405 ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "path", ["/nope", "/api/v1/nothing", "/api/v2/items", "/api/v1/items/1/extra"]
)
def test_unknown_route_is_404(client, path):
    assert_problem(client.get(path), 404, detail=ROUTE_NOT_FOUND)


def test_unknown_route_with_a_body_is_still_404(client):
    assert_problem(client.post("/nope", json={"a": 1}), 404, detail=ROUTE_NOT_FOUND)


@pytest.mark.parametrize(
    ("method", "path", "allowed"),
    [
        ("DELETE", "/api/v1/items", {"GET", "POST"}),
        ("PUT", "/api/v1/items", {"GET", "POST"}),
        ("POST", "/api/v1/items/1", {"GET", "PUT", "PATCH", "DELETE"}),
        ("POST", "/api/v1/items/export", {"GET"}),
        ("POST", "/health", {"GET"}),
        ("DELETE", "/ready", {"GET"}),
        ("POST", "/metrics", {"GET"}),
        ("GET", "/api/v1/models/digits/predict", {"POST"}),
        ("DELETE", "/api/v1/jobs/predictions", {"POST"}),
    ],
)
def test_wrong_method_is_405_with_allow(client, method, path, allowed):
    response = client.request(method, path)
    assert_problem(response, 405)
    allow = {m.strip().upper() for m in response.headers["allow"].split(",")}
    assert allowed <= allow, allow
    assert method not in allow


# ---- 400, 415, 413 --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "raw",
    [
        b'{"name": ',
        b"{'name': 'x'}",
        b"{",
        b"nul",
        b'{"name": "x",}',
        b'{"name": "\xff", "price": 1}',
        b'{"a":1}}',
    ],
    ids=[
        "truncated",
        "single-quotes",
        "brace",
        "bad-literal",
        "trailing-comma",
        "bad-utf8",
        "trailing-data",
    ],
)
def test_malformed_json_is_400(client, raw):
    response = client.post(ITEMS, content=raw, headers={"Content-Type": "application/json"})
    assert_problem(response, 400)


def test_empty_json_body_is_a_missing_body(client):
    """No body at all is a missing required body (422 at `body`), not malformed JSON."""
    response = client.post(ITEMS, content=b"", headers={"Content-Type": "application/json"})
    assert assert_validation_error(response, ["body"]) == [["body"]]


@pytest.mark.parametrize("method", ["PUT", "PATCH"])
def test_malformed_json_on_updates_is_400(client, item, method):
    response = client.request(
        method,
        f"{ITEMS}/{item['id']}",
        content=b"{oops",
        headers={"Content-Type": "application/json"},
    )
    assert_problem(response, 400)
    assert client.get(f"{ITEMS}/{item['id']}").json() == item


def test_malformed_json_on_predict_is_400(client):
    response = client.post(
        "/api/v1/models/digits/predict",
        content=b"[[1,2",
        headers={"Content-Type": "application/json"},
    )
    assert_problem(response, 400)


@pytest.mark.parametrize(
    ("content_type", "raw"),
    [
        ("text/plain", b'{"name": "x", "price": 1}'),
        ("application/x-www-form-urlencoded", b"name=x&price=1"),
        ("multipart/form-data; boundary=zzz", b"--zzz\r\n\r\nx\r\n--zzz--\r\n"),
        ("application/xml", b"<item/>"),
        (None, b'{"name": "x", "price": 1}'),
    ],
    ids=["text", "form", "multipart", "xml", "no-content-type"],
)
def test_body_that_is_not_json_is_415(client, content_type, raw):
    headers = {"Content-Type": content_type} if content_type else {}
    assert_problem(client.post(ITEMS, content=raw, headers=headers), 415)


def test_json_with_charset_parameter_is_accepted(client):
    response = client.post(
        ITEMS,
        content=b'{"name": "charset", "price": 1}',
        headers={"Content-Type": "application/json; charset=utf-8"},
    )
    assert response.status_code == 201


def test_415_on_patch_changes_nothing(client, item):
    response = client.patch(
        f"{ITEMS}/{item['id']}", content=b"price=3", headers={"Content-Type": "text/plain"}
    )
    assert_problem(response, 415)
    assert client.get(f"{ITEMS}/{item['id']}").json() == item


def oversized_body() -> bytes:
    padding = "x" * (MAX_BODY_BYTES + 1)
    return f'{{"name": "big", "price": 1, "description": "{padding}"}}'.encode()


def test_body_over_max_body_bytes_is_413(client):
    response = client.post(
        ITEMS, content=oversized_body(), headers={"Content-Type": "application/json"}
    )
    assert_problem(response, 413)


def test_chunked_body_over_max_body_bytes_is_413(client):
    body = oversized_body()

    def chunks():
        for start in range(0, len(body), 65536):
            yield body[start : start + 65536]

    response = client.post(ITEMS, content=chunks(), headers={"Content-Type": "application/json"})
    assert "content-length" not in response.request.headers
    assert_problem(response, 413)


def test_body_exactly_at_the_limit_is_not_413(client):
    head, tail = b'{"name": "limit", "price": 1, "description": "', b'"}'
    raw = head + b"x" * (MAX_BODY_BYTES - len(head) - len(tail)) + tail
    assert len(raw) == MAX_BODY_BYTES
    response = client.post(ITEMS, content=raw, headers={"Content-Type": "application/json"})
    assert_problem(response, 422)
    assert ["body", "description"] in [e["loc"] for e in response.json()["errors"]]


def test_oversized_prediction_is_413(client):
    rows = ",".join(["[" + ",".join(["16"] * 64) + "]"] * (MAX_BODY_BYTES // 190 + 10))
    raw = f'{{"inputs": [{rows}]}}'.encode()
    assert len(raw) > MAX_BODY_BYTES
    response = client.post(
        "/api/v1/models/digits/predict", content=raw, headers={"Content-Type": "application/json"}
    )
    assert_problem(response, 413)


# ---- 422 ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "loc"),
    [
        ({"price": 1}, ["body", "name"]),
        ({"name": "x"}, ["body", "price"]),
        (valid_item(name=""), ["body", "name"]),
        (valid_item(name="n" * 101), ["body", "name"]),
        (valid_item(name=123), ["body", "name"]),
        (valid_item(name=None), ["body", "name"]),
        (valid_item(description="d" * 1001), ["body", "description"]),
        (valid_item(description=5), ["body", "description"]),
        (valid_item(price=-1), ["body", "price"]),
        (valid_item(price=1_000_000.01), ["body", "price"]),
        (valid_item(price="cheap"), ["body", "price"]),
        (valid_item(price=None), ["body", "price"]),
        (valid_item(price=[1]), ["body", "price"]),
        # Numbers are JSON numbers: nothing is coerced into one.
        (valid_item(price="5"), ["body", "price"]),
        (valid_item(price=True), ["body", "price"]),
        (valid_item(price=False), ["body", "price"]),
        (valid_item(tags="a,b"), ["body", "tags"]),
        (valid_item(tags=[f"t{i}" for i in range(11)]), ["body", "tags"]),
        (valid_item(tags=["ok", ""]), ["body", "tags", 1]),
        (valid_item(tags=["ok", "ok", "t" * 31]), ["body", "tags", 2]),
        (valid_item(tags=["ok", 7]), ["body", "tags", 1]),
        (valid_item(tags=None), ["body", "tags"]),
        (
            valid_item(dimensions={"width": 0, "height": 1, "depth": 1}),
            ["body", "dimensions", "width"],
        ),
        (
            valid_item(dimensions={"width": 1, "height": -2, "depth": 1}),
            ["body", "dimensions", "height"],
        ),
        (valid_item(dimensions={"width": 1, "height": 1}), ["body", "dimensions", "depth"]),
        (
            valid_item(dimensions={"width": "wide", "height": 1, "depth": 1}),
            ["body", "dimensions", "width"],
        ),
        (
            valid_item(dimensions={"width": 1, "height": "2", "depth": 1}),
            ["body", "dimensions", "height"],
        ),
        (
            valid_item(dimensions={"width": 1, "height": 1, "depth": True}),
            ["body", "dimensions", "depth"],
        ),
        (
            valid_item(dimensions={"width": 1, "height": 1, "depth": 1, "mass": 3}),
            ["body", "dimensions", "mass"],
        ),
        (valid_item(dimensions=[1, 2, 3]), ["body", "dimensions"]),
        (valid_item(dimensions="big"), ["body", "dimensions"]),
        (valid_item(colour="red"), ["body", "colour"]),
        (valid_item(id=5), ["body", "id"]),
        (valid_item(created_at="2020-01-01T00:00:00.000000Z"), ["body", "created_at"]),
    ],
    ids=[
        "name-missing",
        "price-missing",
        "name-empty",
        "name-101",
        "name-number",
        "name-null",
        "description-1001",
        "description-number",
        "price-negative",
        "price-over-1e6",
        "price-string",
        "price-null",
        "price-list",
        "price-numeric-string",
        "price-true",
        "price-false",
        "tags-string",
        "tags-11",
        "tag-empty",
        "tag-31",
        "tag-number",
        "tags-null",
        "width-zero",
        "height-negative",
        "depth-missing",
        "width-string",
        "height-numeric-string",
        "depth-true",
        "dimensions-unknown-field",
        "dimensions-list",
        "dimensions-string",
        "unknown-field",
        "read-only-id",
        "read-only-created_at",
    ],
)
def test_invalid_item_is_422_with_the_field_location(client, body, loc):
    assert_validation_error(client.post(ITEMS, json=body), loc)


def test_every_offending_field_is_reported_at_once(client):
    body = {
        "name": "",
        "price": -5,
        "tags": ["fine", "", "t" * 31],
        "dimensions": {"width": 0, "height": 1, "depth": -1},
        "bogus": True,
    }
    assert_validation_error(
        client.post(ITEMS, json=body),
        ["body", "name"],
        ["body", "price"],
        ["body", "tags", 1],
        ["body", "tags", 2],
        ["body", "dimensions", "width"],
        ["body", "dimensions", "depth"],
        ["body", "bogus"],
    )


def test_several_unknown_fields_are_each_reported(client):
    assert_validation_error(
        client.post(ITEMS, json=valid_item(alpha=1, beta=2)), ["body", "alpha"], ["body", "beta"]
    )


@pytest.mark.parametrize(
    "raw", [b"null", b"[]", b'"an item"', b"42", b"true", b'[{"name": "x", "price": 1}]']
)
def test_body_that_is_not_an_object_is_422_at_body(client, raw):
    response = client.post(ITEMS, content=raw, headers={"Content-Type": "application/json"})
    locs = assert_validation_error(response, ["body"])
    assert locs == [["body"]]


@pytest.mark.parametrize(
    ("params", "locs"),
    [
        ({"limit": 0}, [["query", "limit"]]),
        ({"limit": 101}, [["query", "limit"]]),
        ({"limit": "ten"}, [["query", "limit"]]),
        ({"limit": "1.5"}, [["query", "limit"]]),
        ({"offset": -1}, [["query", "offset"]]),
        ({"offset": "start"}, [["query", "offset"]]),
        ({"limit": 0, "offset": -1}, [["query", "limit"], ["query", "offset"]]),
    ],
    ids=[
        "limit-0",
        "limit-101",
        "limit-word",
        "limit-float",
        "offset-negative",
        "offset-word",
        "both",
    ],
)
def test_invalid_query_is_422_at_query(client, params, locs):
    assert_validation_error(client.get(ITEMS, params=params), *locs)


def test_validation_problem_has_the_documented_shape(client):
    response = client.post(
        ITEMS, json={"name": "x", "price": 1, "dimensions": {"width": 0, "height": 1, "depth": 1}}
    )
    body = assert_problem(response, 422, instance=ITEMS)
    assert set(body) == {"type", "title", "status", "detail", "instance", "errors"}
    for error in body["errors"]:
        assert {"loc", "msg", "type"} <= set(error)
    assert error_locs(body) == [["body", "dimensions", "width"]]


def test_422_on_put_changes_nothing(client, item):
    response = client.put(f"{ITEMS}/{item['id']}", json={"name": "x" * 101, "price": 1})
    assert_validation_error(response, ["body", "name"])
    assert client.get(f"{ITEMS}/{item['id']}").json() == item


# ---- request id -----------------------------------------------------------------------------


def test_request_id_from_the_client_is_echoed(client):
    for path in ("/health", "/nope", ITEMS):
        response = client.get(path, headers={"X-Request-ID": "trace-abc.123"})
        assert response.headers["x-request-id"] == "trace-abc.123"


def test_request_id_is_generated_when_missing_or_unusable(client):
    generated = client.get("/health").headers["x-request-id"]
    assert len(generated) == 32 and int(generated, 16) >= 0
    too_long = client.get("/health", headers={"X-Request-ID": "a" * 129}).headers["x-request-id"]
    assert too_long != "a" * 129 and len(too_long) == 32


# ---- the request head limit -------------------------------------------------------------------

MAX_REQUEST_HEAD_BYTES = 16 * 1024


def head_with_padding(fields: int, field_bytes: int) -> bytes:
    padding = "".join(f"X-Padding-{n:02}: {'a' * field_bytes}\r\n" for n in range(fields))
    return f"GET /health HTTP/1.1\r\nHost: test\r\nConnection: close\r\n{padding}\r\n".encode()


def raw_exchange(service, data: bytes) -> bytes:
    """Send raw bytes, then read until the server closes (10 s at most)."""
    with socket.create_connection(("127.0.0.1", service.port), timeout=10) as conn:
        conn.sendall(data)
        chunks = []
        while chunk := conn.recv(65536):
            chunks.append(chunk)
    return b"".join(chunks)


def status_of(answer: bytes) -> int:
    assert answer.startswith(b"HTTP/1.1 "), answer[:200]
    return int(answer.split(b" ", 2)[1])


def test_a_head_just_under_16_kib_is_served(service):
    head = head_with_padding(fields=16, field_bytes=1000)
    assert MAX_REQUEST_HEAD_BYTES - 256 < len(head) < MAX_REQUEST_HEAD_BYTES
    assert status_of(raw_exchange(service, head)) == 200


@pytest.mark.parametrize("fields, field_bytes", [(17, 1000), (64, 1000), (1, 20000)])
def test_a_head_over_16_kib_is_refused(service, fields, field_bytes):
    head = head_with_padding(fields=fields, field_bytes=field_bytes)
    assert len(head) > MAX_REQUEST_HEAD_BYTES
    assert status_of(raw_exchange(service, head)) in (400, 431)
    assert service.server.alive()


def test_a_head_that_never_ends_is_refused_once_past_the_limit(service):
    # The server must not wait for (and hold) a header that keeps growing.
    start = b"GET /health HTTP/1.1\r\nHost: test\r\nX-Endless: "
    answer = raw_exchange(service, start + b"a" * (MAX_REQUEST_HEAD_BYTES + 4096))
    assert status_of(answer) in (400, 431)
