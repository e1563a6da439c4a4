"""The seeding and clean-up client against a stdlib HTTP server on 127.0.0.1."""

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qsl

import pytest

from loadtest.api import ApiClient, ApiError
from loadtest.sources import WriteMixSource
from loadtest.sweep import bearer_token


def serve(statuses: list[int]):
    """A server answering DELETE with each status in turn; the list of paths it was sent."""
    seen: list[str] = []

    class Handler(BaseHTTPRequestHandler):
        def do_DELETE(self):  # noqa: N802 (http.server's naming)
            seen.append(self.path)
            self.send_response(statuses[min(len(seen), len(statuses)) - 1])
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, seen


def test_delete_retries_while_a_concurrent_write_wins():
    server, seen = serve([412, 412, 204])
    try:
        ApiClient("127.0.0.1", server.server_port).delete("/api/v1/items/7")
    finally:
        server.shutdown()
    assert seen == ["/api/v1/items/7"] * 3


def test_delete_gives_up_after_its_attempts():
    server, seen = serve([412])
    try:
        with pytest.raises(ApiError) as raised:
            ApiClient("127.0.0.1", server.server_port).delete("/api/v1/items/7", attempts=2)
    finally:
        server.shutdown()
    assert raised.value.status == 412
    assert len(seen) == 2


def serve_token(status: int):
    """A server whose token endpoint answers `status`; the forms it was sent."""
    forms: list[dict] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):  # noqa: N802
            length = int(self.headers["Content-Length"])
            forms.append(dict(parse_qsl(self.rfile.read(length).decode())))
            body = json.dumps(
                {"access_token": "t0k3n", "token_type": "bearer", "expires_in": 1800}
            ).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, forms


def test_logging_in_once_gives_the_bearer_token():
    server, forms = serve_token(200)
    try:
        url = f"http://127.0.0.1:{server.server_port}"
        assert bearer_token(url, None, "admin", "a-long-password") == "t0k3n"
    finally:
        server.shutdown()
    assert forms == [{"grant_type": "password", "username": "admin", "password": "a-long-password"}]


def test_a_service_without_a_token_endpoint_is_loaded_without_authorization():
    server, _ = serve_token(404)
    try:
        assert bearer_token(f"http://127.0.0.1:{server.server_port}", None, "a", "b") is None
    finally:
        server.shutdown()
    # and a write mix without a token sends no Authorization header
    assert b"Authorization" not in WriteMixSource("h:1", "", "lt-x", 1, None).next()


def test_writes_carry_the_token():
    source = WriteMixSource("h:1", "", "lt-x", 1, "t0k3n")
    assert b"\r\nAuthorization: Bearer t0k3n\r\n" in source.next()
    source.observe(201, b"HTTP/1.1 201 Created\r\nLocation: /api/v1/items/5", b"")
    for _ in range(2):  # the PATCH, then the DELETE
        assert b"\r\nAuthorization: Bearer t0k3n\r\n" in source.next()
        source.observe(200, b"HTTP/1.1 200 OK", b"")
