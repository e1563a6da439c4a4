"""The engine end to end, against the tiny counting server."""

import time

import pytest

from loadtest import scenarios
from loadtest.http import encode_request
from loadtest.runner import run_level
from tests.loadtest.tiny_server import TinyServer


def http_plan(port: int, path: str) -> dict:
    host = f"127.0.0.1:{port}"
    return {
        "kind": "http",
        "host_header": host,
        "prefix": "",
        "tag": "t",
        "requests": [encode_request("GET", path, host)],
    }


def wait_for(condition, seconds: float = 3.0) -> None:
    deadline = time.monotonic() + seconds
    while not condition() and time.monotonic() < deadline:
        time.sleep(0.02)


@pytest.mark.parametrize("workers", [1, 2])
def test_request_count_equals_the_servers(workers):
    with TinyServer() as server:
        level = run_level(
            "127.0.0.1",
            server.port,
            scenarios.get("health"),
            http_plan(server.port, "/health"),
            connections=20,
            duration=0.5,
            workers=workers,
        )
        wait_for(lambda: server.requests >= level["sent"])
        assert level["sent"] == server.requests
        assert level["requests"] + level["unfinished"] == level["sent"]
    assert level["requests"] > 100
    assert level["errors"] == {}
    assert level["statuses"] == {"200": level["requests"]}
    assert level["latency_ms"]["count"] == level["requests"]
    assert level["peak_connections"] == 20


def test_open_loop_holds_the_rate():
    with TinyServer() as server:
        level = run_level(
            "127.0.0.1",
            server.port,
            scenarios.get("health"),
            http_plan(server.port, "/health"),
            connections=10,
            duration=1.0,
            rate=200,
        )
    assert 180 <= level["requests"] <= 210
    assert level["rps"] == pytest.approx(200, rel=0.1)


def test_status_errors_are_counted_by_code():
    with TinyServer() as server:
        level = run_level(
            "127.0.0.1",
            server.port,
            scenarios.get("health"),
            http_plan(server.port, "/boom"),
            connections=4,
            duration=0.3,
        )
    assert level["errors"] == {"status 500": level["requests"]}
    assert level["error_rate"] == 1.0


def test_a_connection_closed_mid_response_is_a_reset():
    with TinyServer() as server:
        level = run_level(
            "127.0.0.1",
            server.port,
            scenarios.get("health"),
            http_plan(server.port, "/hangup"),
            connections=2,
            duration=0.5,
        )
    assert level["requests"] == 0
    assert level["errors"]["reset"] > 0


def test_refused_connections_are_connect_errors():
    with TinyServer() as server:
        port = server.port  # closed once the block ends
    level = run_level(
        "127.0.0.1",
        port,
        scenarios.get("health"),
        http_plan(port, "/health"),
        connections=3,
        duration=0.3,
        timeout=0.5,
    )
    assert level["requests"] == 0
    assert level["errors"]["connect"] >= 3


def test_websocket_echo_round_trips_match_the_server():
    with TinyServer() as server:
        plan = scenarios.plan(
            scenarios.get("ws-echo"), {"tag": "t", "ids": []}, f"127.0.0.1:{server.port}", ""
        )
        level = run_level(
            "127.0.0.1", server.port, scenarios.get("ws-echo"), plan, connections=10, duration=0.5
        )
        wait_for(lambda: server.messages >= level["sent"])
        assert server.messages == level["sent"]
    assert level["requests"] > 100
    assert level["errors"] == {}
    assert level["connect_ms"]["count"] == 10


def test_idle_websockets_are_held_and_probed():
    with TinyServer() as server:
        plan = scenarios.plan(
            scenarios.get("ws-idle"), {"tag": "t", "ids": []}, f"127.0.0.1:{server.port}", ""
        )
        level = run_level(
            "127.0.0.1", server.port, scenarios.get("ws-idle"), plan, connections=50, duration=0.5
        )
    assert level["peak_connections"] == 50
    assert level["requests"] == 50  # one probe echo each
    assert level["errors"] == {}
