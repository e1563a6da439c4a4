import json
import os

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import event, text
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.ext.asyncio import create_async_engine
from starlette.testclient import WebSocketDenialResponse

from {{ cookiecutter.package_name }}.core.db import create_sync_engine
from {{ cookiecutter.package_name }}.core.errors import database_unreachable
from {{ cookiecutter.package_name }}.core.pool import FairAsyncQueuePool

PROBLEM_KEYS = {"type", "title", "status", "detail", "instance"}


def assert_problem(response, status: int, title: str, detail: str | None = None) -> dict:
    assert response.status_code == status
    assert response.headers["content-type"] == "application/problem+json"
    body = response.json()
    assert body.keys() >= PROBLEM_KEYS
    assert body["type"] == "about:blank"
    assert (body["status"], body["title"]) == (status, title)
    if detail is not None:
        assert body["detail"] == detail
    return body


def test_malformed_json_is_400(client: TestClient):
    response = client.post(
        "/api/v1/items", content=b'{"name": ', headers={"Content-Type": "application/json"}
    )

    body = assert_problem(response, 400, "Bad Request", "Malformed JSON body")
    assert body["instance"] == "/api/v1/items"


def test_unknown_route_is_404(client: TestClient):
    response = client.get("/no/such/page")

    assert_problem(response, 404, "Not Found", "The requested URL was not found")


@pytest.mark.parametrize("item_id", ["abc", "1.5", "-1", "99999999999999999999"])
def test_non_integer_or_impossible_ids_are_404(client: TestClient, item_id: str):
    assert_problem(client.get(f"/api/v1/items/{item_id}"), 404, "Not Found")


def test_missing_item_is_404(client: TestClient):
    assert_problem(client.get("/api/v1/items/7"), 404, "Not Found", "Item 7 not found")
    assert_problem(client.delete("/api/v1/items/7"), 404, "Not Found", "Item 7 not found")


def test_wrong_method_is_405_with_allow(client: TestClient):
    response = client.delete("/api/v1/items")

    assert_problem(response, 405, "Method Not Allowed", "Method Not Allowed")
    assert response.headers["allow"] == "GET, HEAD, OPTIONS, POST"
    item_route = client.post("/api/v1/items/1", json={})
    assert item_route.headers["allow"] == "DELETE, GET, HEAD, OPTIONS, PATCH, PUT"


def test_options_is_204_with_allow(client: TestClient):
    response = client.options("/api/v1/items/1")

    assert response.status_code == 204
    assert response.headers["allow"] == "DELETE, GET, HEAD, OPTIONS, PATCH, PUT"
    assert response.content == b""
    assert client.options("/nowhere").status_code == 404


def test_head_is_get_without_the_body(client: TestClient):
    get, head = client.get("/health"), client.head("/health")

    assert head.status_code == get.status_code == 200
    assert head.headers["content-length"] == get.headers["content-length"]
    assert head.headers["content-type"] == get.headers["content-type"]
    assert head.content == b""
    assert client.head("/api/v1/items/999999").status_code == 404


def test_stale_if_match_is_412(client: TestClient, create_item):
    item_id = create_item()["id"]

    response = client.delete(f"/api/v1/items/{item_id}", headers={"If-Match": '"1-0"'})

    assert_problem(
        response,
        412,
        "Precondition Failed",
        "The item has changed: If-Match does not match the current ETag",
    )


def test_body_over_the_limit_is_413(make_client):
    client = make_client(max_body_bytes=100)
    body = b'{"name": "' + b"x" * 200 + b'", "price": 1}'

    declared = client.post(
        "/api/v1/items", content=body, headers={"Content-Type": "application/json"}
    )
    assert_problem(declared, 413, "Content Too Large", "Request body exceeds 100 bytes")

    # Streamed without a Content-Length: the bytes are counted as they arrive.
    streamed = client.post(
        "/api/v1/items",
        content=iter([body[:50], body[50:]]),
        headers={"Content-Type": "application/json"},
    )
    assert_problem(streamed, 413, "Content Too Large", "Request body exceeds 100 bytes")


@pytest.mark.parametrize("content_type", ["text/plain", "application/x-www-form-urlencoded"])
def test_non_json_body_is_415(client: TestClient, content_type: str):
    response = client.post(
        "/api/v1/items", content=b"name=x&price=1", headers={"Content-Type": content_type}
    )

    assert_problem(response, 415, "Unsupported Media Type", "Request body must be application/json")


def test_invalid_data_is_422_listing_every_field(client: TestClient):
    response = client.post(
        "/api/v1/items",
        json={
            "name": "",
            "price": -1,
            "tags": ["ok", ""],
            "dimensions": {"width": 0, "height": 1, "depth": 1},
            "colour": "red",
        },
    )

    body = assert_problem(response, 422, "Unprocessable Content", "Request validation failed")
    locs = sorted(error["loc"] for error in body["errors"])
    assert locs == sorted(
        [
            ["body", "name"],
            ["body", "price"],
            ["body", "tags", 1],
            ["body", "dimensions", "width"],
            ["body", "colour"],
        ]
    )
    assert all({"loc", "msg", "type"} <= error.keys() for error in body["errors"])


def test_body_that_is_not_an_object_is_422_at_body(client: TestClient):
    body = assert_problem(client.post("/api/v1/items", json=[1, 2]), 422, "Unprocessable Content")

    assert [error["loc"] for error in body["errors"]] == [["body"]]


def test_patch_rejects_null_for_required_fields(client: TestClient, create_item):
    item_id = create_item()["id"]

    response = client.patch(f"/api/v1/items/{item_id}", json={"name": None, "price": None})

    body = assert_problem(response, 422, "Unprocessable Content")
    assert sorted(error["loc"] for error in body["errors"]) == [["body", "name"], ["body", "price"]]


def test_invalid_query_is_422_at_query(client: TestClient):
    body = assert_problem(
        client.get("/api/v1/items?limit=0&offset=x"), 422, "Unprocessable Content"
    )

    assert sorted(error["loc"] for error in body["errors"]) == [
        ["query", "limit"],
        ["query", "offset"],
    ]


def test_offset_beyond_what_a_database_accepts_is_422(client: TestClient):
    assert client.get(f"/api/v1/items?offset={2**63 - 1}").status_code == 200

    body = assert_problem(client.get(f"/api/v1/items?offset={2**63}"), 422, "Unprocessable Content")
    assert [error["loc"] for error in body["errors"]] == [["query", "offset"]]


@pytest.mark.parametrize("parameter", ["q", "tag"])
def test_nul_in_a_query_is_422(client: TestClient, parameter: str):
    response = client.get(f"/api/v1/items?{parameter}=a%00b")

    body = assert_problem(response, 422, "Unprocessable Content")
    assert [error["loc"] for error in body["errors"]] == [["query", parameter]]


@pytest.mark.parametrize("text", ["nul\x00byte", "lone \ud800 surrogate"])
@pytest.mark.parametrize("method", ["POST", "PUT", "PATCH"])
def test_text_no_database_can_store_is_422(client: TestClient, create_item, method, text):
    item_id = create_item()["id"]
    url = "/api/v1/items" if method == "POST" else f"/api/v1/items/{item_id}"
    item = {"name": text, "description": text, "price": 1, "tags": ["ok", text]}

    # json.dumps writes both as \u escapes, which JSON allows.
    response = client.request(
        method, url, content=json.dumps(item), headers={"Content-Type": "application/json"}
    )

    problem = assert_problem(response, 422, "Unprocessable Content")
    assert sorted(error["loc"] for error in problem["errors"]) == [
        ["body", "description"],
        ["body", "name"],
        ["body", "tags", 1],
    ]


@pytest.mark.parametrize("method", ["POST", "PUT", "PATCH"])
def test_infinite_numbers_are_422(client: TestClient, create_item, method):
    item_id = create_item()["id"]
    url = "/api/v1/items" if method == "POST" else f"/api/v1/items/{item_id}"
    body = '{"name": "a", "price": 1, "dimensions": {"width": 1e999, "height": 1, "depth": 1}}'

    response = client.request(
        method, url, content=body, headers={"Content-Type": "application/json"}
    )

    problem = assert_problem(response, 422, "Unprocessable Content")
    assert [error["loc"] for error in problem["errors"]] == [["body", "dimensions", "width"]]


def test_unreachable_database_is_503(make_client, unreachable_database_url: str):
    client = make_client(database_url=unreachable_database_url)

    for response in [
        client.get("/api/v1/items"),
        client.get("/api/v1/items/1"),
        client.post("/api/v1/items", json={"name": "a", "price": 1}),
    ]:
        assert_problem(response, 503, "Service Unavailable", "Database is unavailable")
        assert "Traceback" not in response.text
    assert client.get("/ready").json()["checks"]["database"] == "fail"


def test_a_driver_socket_error_is_503(app: FastAPI):
    @app.get("/connect")
    async def connect() -> None:
        raise ConnectionRefusedError("connection to db.internal:5432 refused")

    with TestClient(app, raise_server_exceptions=False) as client:
        response = client.get("/connect")

    assert_problem(response, 503, "Service Unavailable", "Database is unavailable")
    assert "db.internal" not in response.text


def test_no_free_database_connection_is_503(app: FastAPI, tmp_path):
    # A real pool with one connection and a short wait: the second checkout times out.
    engine = create_async_engine(
        f"sqlite+aiosqlite:///{tmp_path / 'busy.db'}",
        poolclass=FairAsyncQueuePool,
        pool_size=1,
        max_overflow=0,
        pool_timeout=0.05,
    )

    @app.get("/busy")
    async def busy() -> None:
        try:
            async with engine.connect(), engine.connect():
                pass
        finally:
            await engine.dispose()

    with TestClient(app, raise_server_exceptions=False) as client:
        response = client.get("/busy")

    assert_problem(response, 503, "Service Unavailable", "Database is unavailable")
    assert "pool" not in response.text


def test_other_database_errors_are_500_without_internals(app: FastAPI):
    @app.get("/conflict")
    async def conflict() -> None:
        raise IntegrityError("INSERT INTO secret_table", {}, Exception("secret constraint"))

    with TestClient(app, raise_server_exceptions=False) as client:
        response = client.get("/conflict")

    assert_problem(response, 500, "Internal Server Error", "An unexpected error occurred")
    assert "secret" not in response.text


TERMINATE = text("SELECT pg_terminate_backend(:pid)")


@pytest.mark.skipif(
    not os.environ.get("TEST_DATABASE_URL", "").startswith(("postgresql://", "postgres://")),
    reason="needs TEST_DATABASE_URL on PostgreSQL, whose server can end a connection",
)
def test_a_connection_lost_after_the_last_query_keeps_the_answer(
    client: TestClient, create_item, database_url: str
):
    """The server ends the connection just after the list's last query: the list is still
    answered, although closing the session (its rollback) fails afterwards; the next request
    gets a new connection."""
    create_item()
    engine = client.app.state.session_factory.kw["bind"]
    admin = create_sync_engine(database_url)

    def end_the_connection(connection, _cursor, statement, *_) -> None:
        if "ORDER BY items.id" in statement:
            backend = connection.connection.driver_connection.get_server_pid()  # asyncpg
            with admin.connect() as admin_connection:
                admin_connection.execute(TERMINATE, {"pid": backend})

    event.listen(engine.sync_engine, "after_cursor_execute", end_the_connection)
    try:
        cut = client.get("/api/v1/items")
    finally:
        event.remove(engine.sync_engine, "after_cursor_execute", end_the_connection)
        admin.dispose()

    assert cut.status_code == 200, cut.text
    assert cut.json()["total"] == 1
    assert client.get("/api/v1/items").json()["total"] == 1


class DriverError(Exception):
    """A driver's error that carries its SQLSTATE, as asyncpg's and psycopg's do."""

    def __init__(self, sqlstate: str) -> None:
        super().__init__(f"driver error {sqlstate}")
        self.sqlstate = sqlstate


@pytest.mark.parametrize(
    ("sqlstate", "unreachable"),
    [
        ("08003", True),  # the connection was closed in the middle of an operation
        ("08006", True),  # connection failure
        ("57P01", True),  # the server is shutting down
        ("57P03", True),  # the server is not yet accepting connections
        ("3D000", True),  # the database does not exist (dropped, or not created yet)
        ("28P01", True),  # the password was refused
        ("53300", True),  # too many connections
        ("23505", False),  # a unique violation: a query failed, the database is there
        ("42P01", False),  # an undefined table: a bug
    ],
)
def test_database_errors_are_told_apart_by_their_sqlstate(sqlstate: str, unreachable: bool):
    error = DBAPIError("SELECT 1", {}, DriverError(sqlstate))

    assert database_unreachable(error) is unreachable


@pytest.mark.parametrize("path", ["/ws/nowhere", "/", "/api/v1/items", "/static/docs/x"])
def test_unknown_websocket_path_is_refused_with_a_404_problem(client: TestClient, path: str):
    with pytest.raises(WebSocketDenialResponse) as refused, client.websocket_connect(path):
        pass

    response = refused.value
    body = assert_problem(response, 404, "Not Found", "The requested URL was not found")
    assert body["instance"] == path


def test_unexpected_error_is_500_without_internals(app: FastAPI):
    @app.get("/explode")
    async def explode() -> None:
        raise RuntimeError("secret connection string")

    with TestClient(app, raise_server_exceptions=False) as client:
        response = client.get("/explode")

    body = assert_problem(response, 500, "Internal Server Error", "An unexpected error occurred")
    assert "secret" not in response.text
    assert body["instance"] == "/explode"
    assert response.headers["x-request-id"]


MALFORMED_BODIES = [
    b"",
    b"null",
    b"[]",
    b'"text"',
    b"12",
    b"{",
    b"\xff\xfe\x00",
    b'{"name": "\\ud800", "price": 1}',
    b'{"name": "a", "price": 1e999}',
    b'{"name": "a", "price": "NaN"}',
    b'{"name": "a", "price": 1, "tags": "abc"}',
    b'{"name": "a", "price": 1, "tags": [1, 2]}',
    b'{"name": "a", "price": 1, "dimensions": []}',
    b'{"name": "a", "price": 1, "dimensions": {"width": "x"}}',
    b'{"name": {"nested": true}, "price": [1]}',
    b'{"name": "a", "price": 1}' * 2,
    b"\x00" * 64,
]


@pytest.mark.parametrize("body", MALFORMED_BODIES)
@pytest.mark.parametrize("method", ["POST", "PUT", "PATCH"])
def test_garbage_never_causes_a_server_error(client: TestClient, create_item, method, body):
    item_id = create_item()["id"]
    url = "/api/v1/items" if method == "POST" else f"/api/v1/items/{item_id}"

    response = client.request(
        method, url, content=body, headers={"Content-Type": "application/json"}
    )

    assert 400 <= response.status_code < 500
    assert response.headers["content-type"] == "application/problem+json"


def test_every_response_carries_a_request_id(client: TestClient):
    generated = client.get("/health").headers["x-request-id"]
    kept = client.get("/health", headers={"X-Request-ID": "abc-123"}).headers["x-request-id"]
    replaced = client.get("/health", headers={"X-Request-ID": "x" * 200}).headers["x-request-id"]

    assert len(generated) == 32
    assert kept == "abc-123"
    assert replaced != "x" * 200


@pytest.mark.parametrize(
    ("body", "loc"),
    [
        ({"name": "a", "price": "5"}, ["body", "price"]),
        ({"name": "a", "price": True}, ["body", "price"]),
        (
            {"name": "a", "price": 1, "dimensions": {"width": 1, "height": "2", "depth": 1}},
            ["body", "dimensions", "height"],
        ),
    ],
)
def test_numbers_are_json_numbers_never_coerced(client: TestClient, body: dict, loc: list):
    response = client.post("/api/v1/items", json=body)
    assert response.status_code == 422
    assert [error["loc"] for error in response.json()["errors"]] == [loc]
    assert client.post("/api/v1/items", json={"name": "a", "price": 5}).status_code == 201
