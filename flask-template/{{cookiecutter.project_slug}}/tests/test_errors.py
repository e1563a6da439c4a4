import io
import json
import os

import pytest
from sqlalchemy import create_engine, event, text

from {{ cookiecutter.package_name }}.core.config import sqlalchemy_url
from {{ cookiecutter.package_name }}.core.db import db

PROBLEM_KEYS = {"type", "title", "status", "detail", "instance"}
VALID = {"name": "Mug", "price": 8}


def assert_problem(response, status: int, title: str, detail: str | None = None) -> dict:
    assert response.status_code == status
    assert response.mimetype == "application/problem+json"
    body = response.json
    assert body.keys() >= PROBLEM_KEYS
    assert body["type"] == "about:blank"
    assert body["status"] == status
    assert body["title"] == title
    assert body["instance"] == response.request.path
    if detail is not None:
        assert body["detail"] == detail
    return body


def test_400_malformed_json(client):
    response = client.post("/api/v1/items", data='{"name": "Mug",', content_type="application/json")
    assert_problem(response, 400, "Bad Request", "Malformed JSON body")


def test_404_unknown_route(client):
    assert_problem(client.get("/nowhere"), 404, "Not Found", "The requested URL was not found")


def test_404_unknown_item(client):
    assert_problem(client.get("/api/v1/items/42"), 404, "Not Found", "Item 42 not found")


def test_405_lists_allowed_methods(client):
    response = client.delete("/api/v1/items")
    assert_problem(response, 405, "Method Not Allowed", "Method Not Allowed")
    allowed = {m.strip() for m in response.headers["Allow"].split(",")}
    assert allowed == {"GET", "HEAD", "OPTIONS", "POST"}


def test_options_is_204_with_allow(client):
    response = client.options("/api/v1/items/1")
    assert response.status_code == 204
    allowed = {m.strip() for m in response.headers["Allow"].split(",")}
    assert allowed == {"DELETE", "GET", "HEAD", "OPTIONS", "PATCH", "PUT"}
    assert response.data == b""
    assert client.options("/nowhere").status_code == 404


def test_head_is_get_without_the_body(client):
    get, head = client.get("/health"), client.head("/health")
    assert head.status_code == get.status_code == 200
    assert head.headers["Content-Length"] == get.headers["Content-Length"]
    assert head.headers["Content-Type"] == get.headers["Content-Type"]
    assert head.data == b""
    assert client.head("/api/v1/items/999999").status_code == 404


def test_413_body_over_the_limit(make_app{% if cookiecutter.use_auth %}, authorize{% endif %}):
    client = make_app(MAX_BODY_BYTES=100).test_client()
{%- if cookiecutter.use_auth %}
    authorize(client)
{%- endif %}
    response = client.post("/api/v1/items", json={"name": "x" * 200, "price": 1})
    assert_problem(response, 413, "Content Too Large", "Request body exceeds 100 bytes")


def test_413_chunked_body_over_the_limit(make_app{% if cookiecutter.use_auth %}, authorize{% endif %}):
    # A chunked body has no Content-Length, so the limit can only be noticed while reading.
    client = make_app(MAX_BODY_BYTES=100).test_client()
{%- if cookiecutter.use_auth %}
    authorize(client)
{%- endif %}
    body = json.dumps({"name": "x" * 200, "price": 1}).encode()
    response = client.post(
        "/api/v1/items",
        input_stream=io.BytesIO(body),
        headers={"Content-Type": "application/json", "Transfer-Encoding": "chunked"},
        # What a server that decodes chunked bodies itself (gunicorn) tells the app.
        environ_overrides={"wsgi.input_terminated": True},
    )
    assert_problem(response, 413, "Content Too Large", "Request body exceeds 100 bytes")


def test_chunked_body_within_the_limit_is_read_whole(client):
    body = json.dumps({"name": "Mug", "price": 8}).encode()
    response = client.post(
        "/api/v1/items",
        input_stream=io.BytesIO(body),
        headers={"Content-Type": "application/json", "Transfer-Encoding": "chunked"},
        environ_overrides={"wsgi.input_terminated": True},
    )
    assert response.status_code == 201
    assert response.json["name"] == "Mug"


def test_415_body_not_json(client):
    response = client.post("/api/v1/items", data="name=Mug", content_type="text/plain")
    assert_problem(response, 415, "Unsupported Media Type", "Request body must be application/json")


def test_422_lists_every_invalid_field(client):
    response = client.post(
        "/api/v1/items",
        json={
            "name": "",
            "price": -1,
            "tags": ["ok", "", "x" * 31],
            "dimensions": {"width": 0, "height": "tall"},
            "colour": "red",
        },
    )
    body = assert_problem(response, 422, "Unprocessable Content", "Request validation failed")
    locs = sorted(tuple(map(str, error["loc"])) for error in body["errors"])
    assert locs == sorted(
        [
            ("body", "name"),
            ("body", "price"),
            ("body", "tags", "1"),
            ("body", "tags", "2"),
            ("body", "dimensions", "width"),
            ("body", "dimensions", "height"),
            ("body", "dimensions", "depth"),
            ("body", "colour"),
        ]
    )
    assert all(error["msg"] and error["type"] for error in body["errors"])
    by_loc = {tuple(error["loc"]): error for error in body["errors"]}
    assert by_loc[("body", "tags", 1)]["loc"][2] == 1  # list indexes stay integers
    assert by_loc[("body", "colour")]["type"] == "extra_forbidden"
    assert by_loc[("body", "dimensions", "depth")]["type"] == "missing"


@pytest.mark.parametrize("body", ["[]", '"text"', "null", "42"])
def test_422_body_that_is_not_an_object(client, body):
    response = client.post("/api/v1/items", data=body, content_type="application/json")
    problem = assert_problem(response, 422, "Unprocessable Content")
    assert [error["loc"] for error in problem["errors"]] == [["body"]]


def test_422_missing_body(client):
    response = client.post("/api/v1/items")
    problem = assert_problem(response, 422, "Unprocessable Content")
    assert problem["errors"][0]["loc"] == ["body"]


def test_500_reveals_nothing(make_app):
    app = make_app()

    @app.get("/boom")
    def boom():
        raise RuntimeError("secret internals")

    response = app.test_client().get("/boom")
    body = assert_problem(response, 500, "Internal Server Error", "An unexpected error occurred")
    assert "secret" not in response.get_data(as_text=True)
    assert "errors" not in body


@pytest.mark.parametrize("path", ["/api/v1/items", "/api/v1/items/1"])
def test_503_when_the_database_is_down(make_app, tmp_path, path):
    unreachable = f"sqlite:///{tmp_path / 'missing-dir' / 'app.db'}"
    response = make_app(DATABASE_URL=unreachable).test_client().get(path)
    assert_problem(response, 503, "Service Unavailable", "database is unavailable")


def test_503_when_no_database_connection_is_free(make_app, tmp_path):
    app = make_app()
    # A real pool with one connection and a short wait: the second checkout times out.
    engine = create_engine(
        f"sqlite:///{tmp_path / 'busy.db'}", pool_size=1, max_overflow=0, pool_timeout=0.05
    )

    @app.get("/busy")
    def busy() -> str:
        with engine.connect(), engine.connect():
            return ""

    try:
        response = app.test_client().get("/busy")
    finally:
        engine.dispose()
    assert_problem(response, 503, "Service Unavailable", "database is unavailable")
    assert "pool" not in response.get_data(as_text=True)


TERMINATE = text("SELECT pg_terminate_backend(:pid)")


@pytest.mark.skipif(
    not os.environ.get("TEST_DATABASE_URL", "").startswith(("postgresql://", "postgres://")),
    reason="needs TEST_DATABASE_URL on PostgreSQL, whose server can end a connection",
)
def test_a_connection_lost_after_the_last_query_keeps_the_answer(app, client, database_url):
    """The server ends the connection just after the list's last query: the list is still
    answered, although closing the session (its rollback) fails afterwards; the next request
    gets a new connection."""
    client.post("/api/v1/items", json=VALID)
    with app.app_context():
        engine = db.engine
    admin = create_engine(sqlalchemy_url(database_url))

    def end_the_connection(connection, _cursor, statement, *_) -> None:
        if "ORDER BY items.id" in statement:
            backend = connection.connection.driver_connection.info.backend_pid
            with admin.connect() as admin_connection:
                admin_connection.execute(TERMINATE, {"pid": backend})

    event.listen(engine, "after_cursor_execute", end_the_connection)
    try:
        cut = client.get("/api/v1/items")
    finally:
        event.remove(engine, "after_cursor_execute", end_the_connection)
        admin.dispose()

    assert cut.status_code == 200, cut.get_data(as_text=True)
    assert cut.json["total"] == 1
    assert client.get("/api/v1/items").json["total"] == 1


def test_request_id_is_echoed_or_generated(client):
    echoed = client.get("/health", headers={"X-Request-ID": "abc-123"})
    assert echoed.headers["X-Request-ID"] == "abc-123"
    generated = client.get("/health", headers={"X-Request-ID": "x" * 129}).headers["X-Request-ID"]
    assert len(generated) == 32 and generated != "x" * 129
    assert client.get("/nowhere").headers["X-Request-ID"]


MALFORMED_BODIES = [
    b"",
    b"{",
    b"\xff\xfe\x00",
    b"[" * 100_000 + b"]" * 100_000,
    b'{"name": "a", "price": NaN}',
    b'{"name": "a", "price": Infinity}',
    b'{"name": "a", "price": 1e999}',
    b'{"name": "a", "price": true}',
    b'{"name": 5, "price": 1}',
    b'{"name": "a\\u0000b", "price": 1}',
    b'{"name": "\\ud800", "price": 1}',
    b'{"name": "a", "price": 1, "tags": "abc"}',
    b'{"name": "a", "price": 1, "tags": [1, null, {}]}',
    b'{"name": "a", "price": 1, "tags": ' + b'["t"' + b', "t"' * 20 + b"]}",
    b'{"name": "a", "price": 1, "dimensions": []}',
    b'{"name": "a", "price": 1, "dimensions": {"width": 1, "height": 1, "depth": 1, "x": 1}}',
    b'{"name": null, "price": null, "description": 7}',
    b'{"id": 5, "created_at": "now", "name": "a", "price": 1}',
    b'{"name": "a", "price": 1}' * 2,
]


@pytest.mark.parametrize("body", MALFORMED_BODIES, ids=range(len(MALFORMED_BODIES)))
@pytest.mark.parametrize("method", ["post", "put", "patch"])
def test_garbage_never_gives_5xx(client, method, body):
    item_id = client.post("/api/v1/items", json=VALID).json["id"]
    url = "/api/v1/items" if method == "post" else f"/api/v1/items/{item_id}"
    response = getattr(client, method)(url, data=body, content_type="application/json")
    assert 400 <= response.status_code < 500
    assert response.mimetype == "application/problem+json"


@pytest.mark.parametrize(
    "url",
    [
        "/api/v1/items?limit=1e999",
        "/api/v1/items?offset=99999999999999999999999",
        "/api/v1/items?q=%00",
        "/api/v1/items/-1",
        "/api/v1/items/%ff",
        "/api/v1/items/1.5",
    ],
)
def test_garbage_in_the_url_never_gives_5xx(client, url):
    response = client.get(url)
    assert 400 <= response.status_code < 500
    assert response.mimetype == "application/problem+json"


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
def test_numbers_are_json_numbers_never_coerced(client, body, loc):
    response = client.post("/api/v1/items", json=body)
    assert response.status_code == 422
    assert [error["loc"] for error in response.json["errors"]] == [loc]
    assert client.post("/api/v1/items", json={"name": "a", "price": 5}).status_code == 201
