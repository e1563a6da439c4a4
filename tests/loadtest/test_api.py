"""The seeding and clean-up client against a stdlib HTTP server on 127.0.0.1."""

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from loadtest.api import ApiClient, ApiError


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
