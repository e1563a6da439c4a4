"""WebSockets: echo, rooms (sender included), errors that keep the connection, item events.

Without Redis a room only spans one worker process, so the `-noredis` services are checked with
two connections that psutil shows to be held by the same worker; with Redis, by different ones
(see test_modes.py for the explicit cross-worker proof).
"""

import contextlib
import json
import uuid

import httpx
import pytest
from websockets.exceptions import ConnectionClosed, InvalidStatus

from tests.contract.harness import (
    TIMESTAMP,
    ws_connect,
    ws_local_port,
    ws_pair,
    ws_receive,
    ws_receive_matching,
)

ITEMS = "/api/v1/items"


WS_MAX_MESSAGE_BYTES = 1_048_576  # the services' default


@pytest.mark.parametrize("path", ["/ws/echo", "/ws/rooms/big"])
def test_a_message_over_the_limit_closes_with_1009(service, path):
    with ws_connect(service, path) as ws:
        ws.send("x" * WS_MAX_MESSAGE_BYTES)  # at the limit: still served
        if path == "/ws/echo":
            assert len(ws.recv(timeout=10)) == WS_MAX_MESSAGE_BYTES
        ws.send("x" * (WS_MAX_MESSAGE_BYTES + 1))
        with pytest.raises(ConnectionClosed) as closed:
            while True:
                ws.recv(timeout=10)
    assert closed.value.rcvd is not None and closed.value.rcvd.code == 1009


def room_name() -> str:
    return f"room-{uuid.uuid4().hex[:12]}"


@pytest.mark.parametrize(
    "text",
    ["hello", "", "ünïcødé ✓ 名前", '{"type": "message"}', "not json {", "x" * 20000],
    ids=["plain", "empty", "unicode", "json-looking", "broken-json", "20k"],
)
def test_echo_returns_every_text_message_unchanged(service, text):
    with ws_connect(service, "/ws/echo") as ws:
        ws.send(text)
        assert ws.recv(timeout=10) == text


def test_echo_keeps_order_over_many_messages(service):
    with ws_connect(service, "/ws/echo") as ws:
        for n in range(50):
            ws.send(f"message {n}")
        assert [ws.recv(timeout=10) for _ in range(50)] == [f"message {n}" for n in range(50)]


@pytest.mark.parametrize(
    "data", [{"text": "hi", "n": [1, 2.5, None]}, "plain", 42, None, [1, [2]], True]
)
def test_room_message_comes_back_to_the_sender(service, data):
    room = room_name()
    with ws_connect(service, f"/ws/rooms/{room}") as ws:
        ws.send(json.dumps({"type": "message", "data": data}))
        message = ws_receive(ws)
    assert set(message) == {"type", "room", "data", "sent_at"}
    assert message["type"] == "message"
    assert message["room"] == room
    assert message["data"] == data
    assert TIMESTAMP.match(message["sent_at"]), message["sent_at"]


def test_room_broadcast_reaches_every_member(service):
    room = room_name()
    # Without Redis the hub is per process: put both clients on the same worker.
    first, second, _, _ = ws_pair(
        service, f"/ws/rooms/{room}", same_worker=service.redis_url is None
    )
    with first, second, ws_connect(service, f"/ws/rooms/{room}-other") as outsider:
        first.send(json.dumps({"type": "message", "data": {"from": "first"}}))
        for connection in (first, second):
            message = ws_receive(connection)
            assert message["room"] == room and message["data"] == {"from": "first"}
        second.send(json.dumps({"type": "message", "data": "reply"}))
        assert ws_receive(first)["data"] == "reply"
        assert ws_receive(second)["data"] == "reply"
        with pytest.raises(TimeoutError):
            outsider.recv(timeout=0.5)


@pytest.mark.parametrize(
    "raw",
    [
        "not json",
        "{",
        "[]",
        '"message"',
        "42",
        "null",
        "{}",
        '{"type": "shout", "data": 1}',
        '{"data": 1}',
        '{"type": "message"}',
        '{"type": 7, "data": 1}',
    ],
    ids=[
        "text",
        "brace",
        "array",
        "string",
        "number",
        "null",
        "empty-object",
        "unknown-type",
        "no-type",
        "no-data",
        "numeric-type",
    ],
)
def test_bad_room_message_gets_an_error_and_the_connection_stays_open(service, raw):
    room = room_name()
    with ws_connect(service, f"/ws/rooms/{room}") as ws:
        ws.send(raw)
        error = ws_receive(ws)
        assert error["type"] == "error"
        assert isinstance(error["detail"], str) and error["detail"]
        ws.send(json.dumps({"type": "message", "data": "still here"}))
        message = ws_receive(ws)
        assert message["type"] == "message" and message["data"] == "still here"


def test_binary_frame_gets_an_error_and_the_connection_stays_open(service):
    room = room_name()
    with ws_connect(service, f"/ws/rooms/{room}") as ws:
        ws.send(b"\x00\x01binary")
        error = ws_receive(ws)
        assert error["type"] == "error" and error["detail"]
        ws.send(json.dumps({"type": "message", "data": 1}))
        assert ws_receive(ws)["data"] == 1


def assert_handshake_refused_with_404(service, path: str) -> None:
    with pytest.raises(InvalidStatus) as refused, ws_connect(service, path) as ws:
        ws.recv(timeout=3)
    response = refused.value.response
    assert response.status_code == 404
    assert response.headers.get("content-type", "").startswith("application/problem+json")
    problem = json.loads(bytes(response.body))
    assert problem["status"] == 404 and problem["title"] == "Not Found"


@pytest.mark.parametrize("room", ["a" * 65, "bad%20room", "semi;colon", "%F0%9F%92%A9", "a+b"])
def test_invalid_room_name_is_refused_with_a_404_problem(service, room):
    """A room outside [A-Za-z0-9_.-]{1,64} names no route: the handshake gets a 404 problem."""
    assert_handshake_refused_with_404(service, f"/ws/rooms/{room}")


def test_valid_room_name_characters(service):
    room = f"Az09_.-{uuid.uuid4().hex[:8]}"
    with ws_connect(service, f"/ws/rooms/{room}") as ws:
        ws.send(json.dumps({"type": "message", "data": "ok"}))
        assert ws_receive(ws)["room"] == room


def test_unknown_websocket_path_is_refused_with_a_404_problem(service):
    assert_handshake_refused_with_404(service, "/ws/nowhere")


# ---- item events ----------------------------------------------------------------------------


def http_client_on(service, pid: int | None) -> httpx.Client:
    """An HTTP client whose kept-alive connection is held by worker `pid` (any worker if None)."""
    for _ in range(30):
        http = service.client()
        response = http.get("/health")
        if pid is None:
            return http
        local_port = response.extensions["network_stream"].get_extra_info("client_addr")[1]
        if service.worker_pid_for(local_port) == pid:
            return http
        http.close()
    raise AssertionError(f"no HTTP connection landed on worker {pid}")


def about(item_id: int):
    return lambda m: isinstance(m.get("data"), dict) and m["data"].get("id") == item_id


def event_for(item_id: int, kind: str):
    return lambda m: m.get("type") == kind and about(item_id)(m)


def test_item_writes_publish_events_to_the_items_room(service):
    with ws_connect(service, "/ws/rooms/items") as ws:
        # Without Redis only the worker holding the WebSocket sees its own writes.
        pid = None if service.redis_url else service.worker_pid_for(ws_local_port(ws))
        with contextlib.closing(http_client_on(service, pid)) as http:
            created = http.post(ITEMS, json={"name": f"evented {uuid.uuid4().hex[:6]}", "price": 2})
            assert created.status_code == 201
            item = created.json()
            message = ws_receive_matching(ws, event_for(item["id"], "item.created"))
            assert message == {"type": "item.created", "room": "items", "data": item}

            put = http.put(f"{ITEMS}/{item['id']}", json={"name": "evented put", "price": 3}).json()
            message = ws_receive_matching(ws, event_for(item["id"], "item.updated"))
            assert message == {"type": "item.updated", "room": "items", "data": put}

            patched = http.patch(f"{ITEMS}/{item['id']}", json={"tags": ["evt"]}).json()
            message = ws_receive_matching(ws, event_for(item["id"], "item.updated"))
            assert message["data"] == patched

            assert http.delete(f"{ITEMS}/{item['id']}").status_code == 204
            message = ws_receive_matching(ws, event_for(item["id"], "item.deleted"))
            assert message == {"type": "item.deleted", "room": "items", "data": {"id": item["id"]}}


def test_failed_writes_publish_nothing(service):
    with ws_connect(service, "/ws/rooms/items") as ws:
        pid = None if service.redis_url else service.worker_pid_for(ws_local_port(ws))
        with contextlib.closing(http_client_on(service, pid)) as http:
            item = http.post(ITEMS, json={"name": "quiet", "price": 1}).json()
            ws_receive_matching(ws, event_for(item["id"], "item.created"))
            stale = '"0-0"'
            assert http.patch(f"{ITEMS}/{item['id']}", json={"price": -1}).status_code == 422
            assert http.put(f"{ITEMS}/{item['id']}", json={"price": 5}).status_code == 422
            headers = {"If-Match": stale}
            assert (
                http.patch(f"{ITEMS}/{item['id']}", json={"price": 5}, headers=headers).status_code
                == 412
            )
            assert http.delete(f"{ITEMS}/{item['id']}", headers=headers).status_code == 412
            assert http.patch(f"{ITEMS}/{item['id']}", json={"price": 9}).status_code == 200
            # The first event about this item after the failures is the successful patch.
            message = ws_receive_matching(ws, about(item["id"]))
            assert message["type"] == "item.updated" and message["data"]["price"] == 9
