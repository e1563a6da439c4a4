{% if cookiecutter.use_celery -%}
import time
{% endif -%}
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from fastapi.testclient import TestClient
from starlette.testclient import WebSocketDenialResponse, WebSocketTestSession


@contextmanager
def in_room(client: TestClient, room: str) -> Iterator[WebSocketTestSession]:
    """A connection to a room, once the server has said it joined (its first message)."""
    with client.websocket_connect(f"/ws/rooms/{room}") as websocket:
        assert websocket.receive_json() == {"type": "joined", "room": room}
        yield websocket


def test_echo_returns_every_message(client: TestClient):
    with client.websocket_connect("/ws/echo") as websocket:
        for text in ["hello", '{"not": "parsed"}', ""]:
            websocket.send_text(text)
            assert websocket.receive_text() == text


def test_room_messages_reach_every_member_including_the_sender(client: TestClient):
    with (
        in_room(client, "lobby") as alice,
        in_room(client, "lobby") as bob,
    ):
        alice.send_json({"type": "message", "data": {"text": "hi", "n": [1, 2]}})

        for member in (alice, bob):
            message = member.receive_json()
            assert message["type"] == "message"
            assert message["room"] == "lobby"
            assert message["data"] == {"text": "hi", "n": [1, 2]}
            assert message["sent_at"].endswith("Z")


def test_rooms_are_separate(client: TestClient):
    with (
        in_room(client, "a") as in_a,
        in_room(client, "b") as in_b,
    ):
        in_b.send_json({"type": "message", "data": "for b"})
        in_a.send_json({"type": "message", "data": "for a"})

        assert in_a.receive_json()["data"] == "for a"
        assert in_b.receive_json()["data"] == "for b"


@pytest.mark.parametrize(
    "text",
    ["not json", "[1, 2]", '{"type": "message"}', '{"type": "other", "data": 1}', '"message"'],
)
def test_bad_messages_get_an_error_and_the_connection_stays_open(client: TestClient, text: str):
    with in_room(client, "lobby") as websocket:
        websocket.send_text(text)
        error = websocket.receive_json()
        assert error["type"] == "error"
        assert error["detail"]

        websocket.send_json({"type": "message", "data": None})
        assert websocket.receive_json()["data"] is None


@pytest.mark.parametrize("room", ["a b", "semi;colon", "a+b", "\u00e9t\u00e9", "r" * 65])
def test_invalid_room_names_are_refused_with_a_404_problem(client: TestClient, room: str):
    with (
        pytest.raises(WebSocketDenialResponse) as refused,
        client.websocket_connect(f"/ws/rooms/{room}"),
    ):
        pass

    response = refused.value
    assert response.status_code == 404
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["detail"] == "The requested URL was not found"


def test_longest_room_name_is_accepted(client: TestClient):
    room = "Az09_.-" + "r" * 57
    with in_room(client, room) as websocket:
        websocket.send_json({"type": "message", "data": 1})
        assert websocket.receive_json()["room"] == room


def test_item_writes_are_announced_in_the_items_room(client: TestClient, item_payload):
    with in_room(client, "items") as websocket:
        created = client.post("/api/v1/items", json=item_payload).json()
        updated = client.patch(f"/api/v1/items/{created['id']}", json={"price": 1}).json()
        client.delete(f"/api/v1/items/{created['id']}")

        events = [websocket.receive_json() for _ in range(3)]

    assert events == [
        {"type": "item.created", "room": "items", "data": created},
        {"type": "item.updated", "room": "items", "data": updated},
        {"type": "item.deleted", "room": "items", "data": {"id": created["id"]}},
    ]


def test_a_dropped_connection_leaves_its_room(client: TestClient):
    hub = client.app.state.hub
    with in_room(client, "transient") as websocket:
        websocket.send_json({"type": "message", "data": 1})
        websocket.receive_json()
        assert hub.connection_count("transient") == 1

    with in_room(client, "transient") as websocket:
        # The echo proves the server has processed the earlier disconnect.
        websocket.send_json({"type": "message", "data": 2})
        assert websocket.receive_json()["data"] == 2
        assert hub.connection_count("transient") == 1
{%- if cookiecutter.use_celery %}


def test_rooms_span_processes_through_redis(make_client, redis_url: str):
    # Two applications with separate hubs stand in for two worker processes.
    first, second = make_client(redis_url=redis_url), make_client(redis_url=redis_url)

    with (
        in_room(first, "shared") as on_first,
        in_room(second, "shared") as on_second,
    ):
        wait_until_subscribed(second)
        wait_until_subscribed(first)
        on_first.send_json({"type": "message", "data": "across"})

        assert on_second.receive_json()["data"] == "across"
        assert on_first.receive_json()["data"] == "across"


def wait_until_subscribed(client: TestClient) -> None:
    """Block until the app's pub/sub listener has its PSUBSCRIBE in place."""
    deadline = time.monotonic() + 5
    while not client.app.state.hub.subscribed.is_set():
        assert time.monotonic() < deadline, "the pub/sub listener did not subscribe"
        time.sleep(0.01)
{%- endif %}
