"""No input, however malformed, produces a 5xx or a response outside the problem shape."""

import pytest

from tests.contract.harness import assert_well_formed

ITEMS = "/api/v1/items"
PREDICT = "/api/v1/models/digits/predict"
JOBS = "/api/v1/jobs/predictions"

GARBAGE_BODIES = [
    b"",
    b" ",
    b"\x00",
    b"\xff\xfe\xfd",
    b'{"name": "\xed\xa0\x80", "price": 1}',
    b'{"name": "\\ud800", "price": 1}',
    b'{"name": "nul\\u0000byte", "price": 1}',
    b'{"name": "x", "price": NaN}',
    b'{"name": "x", "price": Infinity}',
    b'{"name": "x", "price": -Infinity}',
    b'{"name": "x", "price": 1e400}',
    b'{"name": "x", "price": 1e-400}',
    b'{"name": "x", "price": 123456789012345678901234567890}',
    b'{"name": "x", "price": 1, "dimensions": {"width": NaN, "height": 1, "depth": 1}}',
    b'{"name": "x", "price": 1, "dimensions": {"width": 1e999, "height": 1, "depth": 1}}',
    b'{"name": "x", "name": "y", "price": 1}',
    b'{"name": {"$gt": ""}, "price": 1}',
    b'{"name": "x", "price": true}',
    b'{"name": "x", "price": "1e3"}',
    b'{"name": ["x"], "price": 1}',
    b'{"name": "x", "price": 1, "tags": [[]]}',
    b'{"name": "x", "price": 1, "tags": {"a": 1}}',
    b'{"name": "x", "price": 1, "tags": [null]}',
    b'{"name": "x", "price": 1, "dimensions": {"width": {"w": 1}, "height": 1, "depth": 1}}',
    b'{"name": "x", "price": 1, "dimensions": {}}',
    b'{"name": "x", "price": 1, "__proto__": {"admin": true}}',
    b'{"": 1}',
    b"[" * 50_000 + b"]" * 50_000,
    b'{"a":' * 20_000 + b"1" + b"}" * 20_000,
    b'"' + b"\\" * 10_001 + b'"',
    b"{}" * 1000,
    '{"name": "\U0001f600\u202e\u0000", "price": 1}'.encode("utf-8", "surrogatepass"),
    b'{"name": "' + b"x" * 100_000 + b'", "price": 1}',
    b'{"inputs": [[' + b"1," * 100_000 + b"1]]}",
]

PREDICT_BODIES = [
    b'{"inputs": [[NaN' + b",1" * 63 + b"]]}",
    b'{"inputs": [[Infinity' + b",1" * 63 + b"]]}",
    b'{"inputs": [[1e400' + b",1" * 63 + b"]]}",
    b'{"inputs": [[true' + b",1" * 63 + b"]]}",
    b'{"inputs": [[-0.0' + b",0" * 63 + b"]]}",
    b'{"inputs": [["16"' + b",1" * 63 + b"]]}",
    b'{"inputs": [{"0": 1}]}',
    b'{"inputs": [[]]}',
    b'{"inputs": [null]}',
    b'{"inputs": {"0": [1]}}',
    b'{"inputs": ' + b"[" * 5000 + b"]" * 5000 + b"}",
]

GARBAGE_PATHS = [
    "/api/v1/items/%00",
    "/api/v1/items/%FF",
    "/api/v1/items/%F0%9F%92%A9",
    "/api/v1/items/1%2F2",
    "/api/v1/items/..%2F..%2Fetc%2Fpasswd",
    "/api/v1/items/1;drop",
    "/api/v1/items/ 1",
    "/api/v1/items/+1",
    "/api/v1/items/0x1F",
    "/api/v1/items/１",
    "/api/v1/items/" + "9" * 400,
    "/api/v1/items/-9223372036854775809",
    "/api/v1/items//1",
    "/api/v1/items/1/",
    "/api/v1/items/",
    "/api/v1//items",
    "/static/docs/../../main.py",
    "/static/docs/%2e%2e/%2e%2e/core/config.py",
    "/static/docs/..%2F..%2F..%2Fpyproject.toml",
    "/static/docs/nope.js",
    "/static/docs/",
    "/static/",
    "/api/v1/jobs/%00",
    "/api/v1/jobs/' OR 1=1 --",
    "/api/v1/models/%00",
    "/api/v1/models/digits/%2e%2e",
    "/ws/echo",
    "/ws/rooms/x",
    "/%%%",
    "/" + "a" * 2000,
]

GARBAGE_QUERIES = [
    "limit=%00",
    "limit=1e2",
    "limit=-0",
    "limit=+5",
    "limit=0x10",
    "limit=99999999999999999999999",
    "offset=99999999999999999999999",
    "offset=9223372036854775807",
    "offset=2147483648",
    "limit=1&limit=2",
    "limit[]=1",
    "limit=",
    "offset=",
    "q=%00",
    "q=%FF%FE",
    "q=%25",
    "q=%5C",
    "q=" + "x" * 3000,
    "q=' OR 1=1 --",
    "q=%ED%A0%80",
    "tag=%00",
    "tag=",
    "tag=" + "t" * 3000,
    'tag="]}',
    "tag=%5B%5D",
    "tag=a&tag=b",
    "unknown=1",
    "q",
    "&&&==&",
]


@pytest.mark.parametrize("raw", GARBAGE_BODIES, ids=range(len(GARBAGE_BODIES)))
@pytest.mark.parametrize("method", ["POST", "PATCH"])
def test_garbage_item_bodies(client, method, raw):
    path = ITEMS if method == "POST" else f"{ITEMS}/1"
    response = client.request(
        method, path, content=raw, headers={"Content-Type": "application/json"}
    )
    assert_well_formed(response)


@pytest.mark.parametrize(
    "raw", GARBAGE_BODIES + PREDICT_BODIES, ids=range(len(GARBAGE_BODIES) + len(PREDICT_BODIES))
)
@pytest.mark.parametrize("path", [PREDICT, JOBS])
def test_garbage_prediction_bodies(client, path, raw):
    response = client.post(path, content=raw, headers={"Content-Type": "application/json"})
    assert_well_formed(response)
    assert response.status_code != 200 or path == PREDICT


@pytest.mark.parametrize("path", GARBAGE_PATHS)
@pytest.mark.parametrize("method", ["GET", "DELETE"])
def test_garbage_paths(client, method, path):
    assert_well_formed(client.request(method, path))


@pytest.mark.parametrize("query", GARBAGE_QUERIES)
def test_garbage_list_queries(client, query):
    assert_well_formed(client.get(f"{ITEMS}?{query}"))


@pytest.mark.parametrize(
    "headers",
    [
        {"If-Match": ","},
        {"If-Match": '"' * 500},
        {"If-None-Match": "garbage, *, W/"},
        {"If-None-Match": '"1-1'},
        {"Content-Type": "application/json; charset=latin-1"},
        {"Content-Type": "application/json; charset=no-such-charset"},
        {"Content-Type": "application/json-patch+json"},
        {"Content-Type": ";;;"},
        {"Content-Encoding": "gzip"},
        {"Accept": "application/xml"},
        {"X-Request-ID": "é" * 10},
    ],
    ids=range(11),
)
def test_garbage_headers(client, headers):
    created = client.post(ITEMS, json={"name": "headers", "price": 1})
    item_path = f"{ITEMS}/{created.json()['id']}"
    encoded = {k: v.encode("utf-8") for k, v in headers.items()}
    body = b'{"price": 2}'
    for method in ("GET", "PATCH", "DELETE"):
        response = client.request(
            method,
            item_path,
            content=body if method == "PATCH" else None,
            headers={"Content-Type": "application/json", **encoded},
        )
        assert_well_formed(response)
