"""WebSockets against a real server: werkzeug in a thread, simple-websocket as the client."""

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
import simple_websocket
from werkzeug.serving import make_server

from {{ cookiecutter.package_name }}.api.routes.ws import close_websockets

PROJECT_DIR = Path(__file__).resolve().parents[1]


class Client(simple_websocket.Client):
    """simple-websocket's client, keeping a message that comes with the handshake's answer.

    Its handshake takes only the first event from what it read, so a message the server
    sends at once (a room's "joined") would wait, unread, until more data arrived.
    """

    def handshake(self) -> None:
        super().handshake()
        self.connected = self._handle_events()


def serve(app) -> Iterator[str]:
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    yield f"ws://127.0.0.1:{server.server_port}"
    server.shutdown()
    thread.join(timeout=5)


@pytest.fixture
def ws_url(app) -> Iterator[str]:
    yield from serve(app)


def receive_json(ws: Client) -> dict:
    text = ws.receive(timeout=5)
    assert text is not None, "no message within 5 seconds"
    return json.loads(text)


def join(url: str, room: str) -> Client:
    """Connect to a room; the server's first message says it has joined."""
    ws = Client.connect(f"{url}/ws/rooms/{room}")
    assert receive_json(ws) == {"type": "joined", "room": room}
    return ws


def wait_until(condition, timeout: float = 5.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.02)
    return False


def test_echo(ws_url):
    ws = Client.connect(f"{ws_url}/ws/echo")
    try:
        for text in ("hello", '{"not": "parsed"}', "ünïcödé"):
            ws.send(text)
            assert ws.receive(timeout=5) == text
    finally:
        ws.close()


def test_room_message_reaches_everyone_in_the_room(ws_url):
    alice, bob = join(ws_url, "lobby"), join(ws_url, "lobby")
    outsider = join(ws_url, "elsewhere")
    try:
        bob.send(json.dumps({"type": "message", "data": {"text": "hi", "n": [1, 2]}}))
        for ws in (alice, bob):
            message = receive_json(ws)
            assert message["type"] == "message"
            assert message["room"] == "lobby"
            assert message["data"] == {"text": "hi", "n": [1, 2]}
            assert message["sent_at"].endswith("Z")
        assert outsider.receive(timeout=0.3) is None  # the other room heard nothing
    finally:
        for ws in (alice, bob, outsider):
            ws.close()


@pytest.mark.parametrize(
    "bad", ["not json", "[1, 2]", '{"type": "message"}', '{"type": "other", "data": 1}', "[" * 5000]
)
def test_bad_messages_get_an_error_and_the_connection_stays_open(ws_url, bad):
    ws = join(ws_url, "lobby")
    try:
        ws.send(bad)
        error = receive_json(ws)
        assert error["type"] == "error"
        assert error["detail"]
        ws.send(json.dumps({"type": "message", "data": 42}))
        assert receive_json(ws)["data"] == 42
    finally:
        ws.close()


def test_invalid_room_name_is_refused(ws_url):
    with pytest.raises(simple_websocket.ConnectionError):
        Client.connect(f"{ws_url}/ws/rooms/{'x' * 65}")


def test_item_changes_are_announced_in_the_items_room(app, client, ws_url):
    ws = join(ws_url, "items")
    try:
        item = client.post("/api/v1/items", json={"name": "Lamp", "price": 10}).json
        created = receive_json(ws)
        assert created == {"type": "item.created", "room": "items", "data": item}

        client.patch(f"/api/v1/items/{item['id']}", json={"price": 12})
        updated = receive_json(ws)
        assert updated["type"] == "item.updated"
        assert updated["data"]["price"] == 12

        client.delete(f"/api/v1/items/{item['id']}")
        assert receive_json(ws) == {
            "type": "item.deleted",
            "room": "items",
            "data": {"id": item["id"]},
        }
    finally:
        ws.close()


def test_plain_http_request_to_a_websocket_route_is_404(client):
    response = client.get("/ws/echo")
    assert response.status_code == 404
    assert response.mimetype == "application/problem+json"
    assert response.json["detail"] == "The requested URL was not found"


def test_closing_for_shutdown_says_going_away_and_ends_the_handlers(app, ws_url):
    connections = app.extensions["websockets"]
    echo = Client.connect(f"{ws_url}/ws/echo")
    member = join(ws_url, "lobby")
    assert wait_until(lambda: len(connections) == 2)

    close_websockets(app)

    for ws in (echo, member):
        with pytest.raises(simple_websocket.ConnectionClosed):
            ws.receive(timeout=5)
        assert ws.close_reason == 1001
    assert wait_until(lambda: len(connections) == 0)
    assert app.extensions["realtime"].subscriber_count("lobby") == 0


def start_gunicorn(tmp_path: Path, database_url: str, **settings: str):
    """gunicorn with these settings on a free port: (process, port, log path)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    environment = {
        **os.environ,
        "BIND": f"127.0.0.1:{port}",
        "DATABASE_URL": database_url,
        "PROMETHEUS_MULTIPROC_DIR": str(tmp_path / "metrics"),
{%- if cookiecutter.use_celery %}
        "REDIS_URL": "",
{%- endif %}
        **settings,
    }
    log_path = tmp_path / "gunicorn.log"
    with log_path.open("w") as log:
        server = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "-c", "gunicorn.conf.py"],
            cwd=PROJECT_DIR,
            env=environment,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    return server, port, log_path


def test_gunicorn_stops_promptly_with_websockets_open(database_url, tmp_path):
    """SIGTERM: the workers close their WebSockets and exit cleanly, well within seconds,
    even with clients that never answer the close."""
    server, port, log_path = start_gunicorn(tmp_path, database_url, WEB_CONCURRENCY="2")
    silent: list[socket.socket] = []
    try:
        clients = [connect_when_up(f"ws://127.0.0.1:{port}/ws/echo") for _ in range(3)]
        for ws in clients:
            ws.send("still here")
            assert ws.receive(timeout=5) == "still here"
        silent.extend(open_silent_websocket(port) for _ in range(2))
        started = time.monotonic()
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=15)
        stopped_after = time.monotonic() - started
    finally:
        for conn in silent:
            conn.close()
        if server.poll() is None:
            server.kill()
            server.wait()
    output = log_path.read_text()
    assert server.returncode == 0, output
    assert stopped_after < 5, output
    assert "SIGABRT" not in output and "SIGKILL" not in output, output
    for ws in clients:
        assert ws.close_reason == 1001


def open_silent_websocket(port: int) -> socket.socket:
    """A client that completes the handshake and then neither reads nor closes."""
    conn = socket.create_connection(("127.0.0.1", port), timeout=5)
    conn.sendall(
        b"GET /ws/echo HTTP/1.1\r\nHost: test\r\nUpgrade: websocket\r\n"
        b"Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
        b"Sec-WebSocket-Version: 13\r\n\r\n"
    )
    assert conn.recv(1024).startswith(b"HTTP/1.1 101")
    return conn


def connect_when_up(url: str, timeout: float = 30.0) -> Client:
    deadline = time.monotonic() + timeout
    while True:
        try:
            return Client.connect(url)
        except (OSError, simple_websocket.ConnectionError):
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)


def handshake_answer(port: int) -> bytes:
    """The raw answer to a WebSocket handshake on /ws/echo: the head, and the body if any."""
    with socket.create_connection(("127.0.0.1", port), timeout=5) as conn:
        conn.sendall(
            b"GET /ws/echo HTTP/1.1\r\nHost: test\r\nUpgrade: websocket\r\n"
            b"Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
            b"Sec-WebSocket-Version: 13\r\n\r\n"
        )
        answer = b""
        while b"\r\n\r\n" not in answer and (chunk := conn.recv(65536)):
            answer += chunk
        head, _, body = answer.partition(b"\r\n\r\n")
        for line in head.lower().split(b"\r\n"):
            if line.startswith(b"content-length:"):
                while len(body) < int(line.split(b":")[1]) and (chunk := conn.recv(65536)):
                    body += chunk
        return head + b"\r\n\r\n" + body


def test_websockets_beyond_the_workers_share_of_threads_are_503(database_url, tmp_path):
    """One worker of 4 threads, half of them for WebSockets: the third is refused, and
    /health keeps answering at once."""
    server, port, log_path = start_gunicorn(
        tmp_path, database_url, WEB_CONCURRENCY="1", GUNICORN_THREADS="4", WS_THREAD_SHARE="0.5"
    )
    clients: list[Client] = []
    try:
        clients.extend(connect_when_up(f"ws://127.0.0.1:{port}/ws/echo") for _ in range(2))
        for ws in clients:
            ws.send("held")
            assert ws.receive(timeout=5) == "held"

        answer = handshake_answer(port)
        head, _, body = answer.partition(b"\r\n\r\n")
        assert head.startswith(b"HTTP/1.1 503"), answer
        assert b"content-type: application/problem+json" in head.lower()
        assert b"retry-after: 5" in head.lower()
        assert json.loads(body)["status"] == 503

        started = time.monotonic()
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=1) as response:
            assert response.status == 200
        assert time.monotonic() - started < 1

        clients.pop().close()
        assert wait_until(lambda: handshake_answer(port).startswith(b"HTTP/1.1 101"))
    finally:
        for ws in clients:
            ws.close()
        server.terminate()
        server.wait(timeout=30)
    assert "Traceback" not in log_path.read_text()


def test_abrupt_disconnect_leaves_nothing_behind(app, ws_url):
    hub = app.extensions["realtime"]
    ws = join(ws_url, "lobby")
    assert hub.subscriber_count("lobby") == 1
    ws.sock.shutdown(socket.SHUT_RDWR)  # vanish without a closing handshake
    assert wait_until(lambda: hub.subscriber_count("lobby") == 0)
{%- if cookiecutter.use_celery %}


def test_rooms_span_processes_through_redis(make_app, redis_url):
    """Two apps with their own hubs stand in for two gunicorn worker processes."""
    first, second = make_app(REDIS_URL=redis_url), make_app(REDIS_URL=redis_url)
    first_urls, second_urls = serve(first), serve(second)
    try:
        alice = join(next(first_urls), "lobby")
        bob = join(next(second_urls), "lobby")
        alice.send(json.dumps({"type": "message", "data": "across"}))
        assert receive_json(alice)["data"] == "across"
        assert receive_json(bob)["data"] == "across"
        alice.close()
        bob.close()
    finally:
        for urls in (first_urls, second_urls):
            next(urls, None)
{%- endif %}
