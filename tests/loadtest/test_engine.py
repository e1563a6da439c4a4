"""The engine end to end, against the tiny counting server."""

import json
import subprocess
import sys
import time

import pytest

from loadtest import scenarios
from loadtest.histogram import Histogram
from loadtest.http import encode_request
from loadtest.merge import MergeError, merge_levels, merge_runs
from loadtest.runner import WindowError, run_level
from tests.loadtest.tiny_server import TinyServer


def http_plan(port: int, *paths: str) -> dict:
    host = f"127.0.0.1:{port}"
    return {
        "kind": "http",
        "host_header": host,
        "prefix": "",
        "tag": "t",
        "requests": [encode_request("GET", path, host) for path in paths],
    }


def load(port: int, *paths: str, connections: int = 4, **options) -> dict:
    options.setdefault("duration", 0.4)
    options.setdefault("timeout", options["duration"] * 0.8)
    return run_level(
        "127.0.0.1",
        port,
        scenarios.get("health"),
        http_plan(port, *paths),
        connections=connections,
        **options,
    )


def wait_for(condition, seconds: float = 3.0) -> None:
    deadline = time.monotonic() + seconds
    while not condition() and time.monotonic() < deadline:
        time.sleep(0.02)


@pytest.mark.parametrize("workers", [1, 2])
def test_request_count_equals_the_servers(workers):
    with TinyServer() as server:
        level = load(server.port, "/health", connections=20, duration=0.5, workers=workers)
        wait_for(lambda: server.requests >= level["sent"])
        # every request sent (in the warm-up too) reached the server
        assert level["sent"] <= server.requests
    assert level["requests"] > 100
    assert level["errors"] == {}
    assert level["statuses"] == {"200": level["requests"]}
    assert level["latency_ms"]["count"] == level["requests"]
    assert level["peak_connections"] == 20
    assert (level["target"], level["held"], level["reached"]) == (20, 20, True)
    assert level["steady"] is True
    assert not any(marker.startswith("reached") for marker in level["markers"])
    assert level["generator"]["processes"] == workers


def test_a_server_holding_k_connections_is_reported_as_reached_k_of_n():
    with TinyServer(max_connections=5) as server:
        level = load(server.port, "/health", connections=20, duration=0.5)
        assert server.refused > 0
    assert level["opened"] >= 5
    assert level["held"] == 5
    assert level["reached"] is False
    assert level["markers"][0] == "reached 5 of 20"
    # the turned-away connections are counted, not reset away with the warm-up
    failures = level["connect_failures"]
    assert failures["before_window"] + failures["in_window"] > 0


def test_a_server_slower_than_the_window_is_censored_and_not_steady():
    with TinyServer(slow_seconds=2.0) as server:
        # each connection: answers in 0.1 s, then one that outlasts the window
        level = load(
            server.port,
            "/lag",
            "/lag",
            "/lag",
            "/slow",
            connections=10,
            duration=0.3,
            max_duration=0.6,
            timeout=0.5,
        )
    assert level["requests"] > 0
    assert level["window"]["limit_hit"] is True
    assert level["unfinished"] > 0
    assert level["unfinished_age_ms"]["max"] > 2 * level["latency_ms"]["p99"]
    assert level["censored"] is True
    assert level["steady"] is False
    assert level["littles_law"]["off"] > 0.1
    assert "censored" in level["markers"] and "not steady" in level["markers"]


def test_the_window_adapts_until_the_level_is_steady():
    with TinyServer(slow_seconds=0.15) as server:
        level = load(
            server.port, "/slow", connections=10, duration=0.2, max_duration=3.0, timeout=1.0
        )
    # three answers per connection need at least 0.45 s: more than the shortest window
    assert level["window"]["seconds"] >= 0.45
    assert level["window"]["limit_hit"] is False
    assert level["steady"] is True
    assert level["censored"] is False
    assert level["latency_ms"]["p50"] == pytest.approx(150, rel=0.2)
    assert level["markers"] == []


def test_a_saturated_generator_is_marked_generator_bound():
    # Thousands of one-byte chunks per response: the generator parses, the server copies.
    # Other work on a shared machine can take the generator's core for a moment, so up to
    # three tries.
    for _ in range(3):
        with TinyServer() as server:
            level = load(server.port, "/chunky", connections=4, duration=0.5)
        if level["generator"]["busy_percent"] > 90:
            break
    assert level["requests"] > 0
    assert level["generator"]["busy_percent"] > 90
    assert level["generator"]["bound"] is True
    assert "generator-bound: a lower bound" in level["markers"]


def test_a_timeout_as_long_as_the_window_is_refused():
    with pytest.raises(WindowError, match="must be shorter than the measured window"):
        run_level(
            "127.0.0.1",
            9,
            scenarios.get("health"),
            http_plan(9, "/health"),
            connections=1,
            duration=1.0,
            timeout=1.0,
        )
    done = subprocess.run(
        [sys.executable, "-m", "loadtest", "run", "--url", "http://127.0.0.1:9"]
        + ["--duration", "2s", "--max-duration", "2s", "--timeout", "3s"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2
    assert "timeout (3 s) must be shorter than the measured window (2 s)" in done.stderr


def test_responses_of_one_shape_but_different_statuses_are_told_apart():
    with TinyServer() as server:
        level = load(server.port, "/flip", connections=1, duration=0.3)
        wait_for(lambda: server.flips >= level["sent"])
    statuses = level["statuses"]
    assert abs(statuses["200"] - statuses["503"]) <= 1  # one each in turn, none mistaken
    assert statuses["200"] + statuses["503"] == level["requests"] > 50


def test_open_loop_holds_the_rate():
    with TinyServer() as server:
        level = load(server.port, "/health", connections=10, duration=1.0, rate=200)
    assert 180 <= level["requests"] <= 210
    assert level["rps"] == pytest.approx(200, rel=0.1)
    assert level["steady"] is None  # Little's law is checked on closed loops only


def test_status_errors_are_counted_by_code():
    with TinyServer() as server:
        level = load(server.port, "/boom", duration=0.3)
    assert level["errors"] == {"status 500": level["requests"]}
    assert level["error_rate"] == 1.0


def test_a_connection_closed_mid_response_is_a_reset():
    with TinyServer() as server:
        level = load(server.port, "/hangup", connections=2, duration=0.5)
    assert level["requests"] == 0
    assert level["errors"]["reset"] > 0


def test_refused_connections_are_connect_errors():
    with TinyServer() as server:
        port = server.port  # closed once the block ends
    level = load(port, "/health", connections=3, duration=0.6, timeout=0.5)
    assert level["requests"] == 0
    assert level["held"] == 0 and level["markers"][0] == "reached 0 of 3"
    failures = level["connect_failures"]
    assert failures["before_window"] + failures["in_window"] >= 3


def test_merged_runs_keep_exact_histograms_and_sum_connections():
    with TinyServer() as server:
        first = load(server.port, "/health", connections=3, duration=0.3)
        second = load(server.port, "/health", connections=5, duration=0.3)
    merged = merge_levels([first, second])
    whole = Histogram.from_dict(first["histogram"])
    whole.merge(Histogram.from_dict(second["histogram"]))
    assert merged["latency_ms"] == whole.summary()
    assert merged["requests"] == first["requests"] + second["requests"]
    assert (merged["target"], merged["held"], merged["reached"]) == (8, 8, True)
    assert merged["rps"] == pytest.approx(first["rps"] + second["rps"])
    run = {"scenario": "health", "levels": [first]}
    with pytest.raises(MergeError):
        merge_runs([run, {"scenario": "health", "levels": [first, second]}])
    assert json.dumps(merge_runs([run, run]))  # JSON all the way


def ws_plan(name: str, port: int) -> tuple:
    scenario = scenarios.get(name)
    state = {"tag": "t", "ids": [], "joins": False}
    return scenario, scenarios.plan(scenario, state, f"127.0.0.1:{port}", "")


def test_websocket_echo_round_trips_match_the_server():
    with TinyServer() as server:
        scenario, plan = ws_plan("ws-echo", server.port)
        level = run_level(
            "127.0.0.1", server.port, scenario, plan, connections=10, duration=0.5, timeout=0.4
        )
        wait_for(lambda: server.messages >= level["sent"])
        assert level["sent"] <= server.messages
    assert level["requests"] > 100
    assert level["errors"] == {}
    assert level["connect_ms"]["count"] == 10
    assert level["held"] == 10


def test_idle_websockets_are_held_and_probed():
    with TinyServer() as server:
        scenario, plan = ws_plan("ws-idle", server.port)
        level = run_level(
            "127.0.0.1", server.port, scenario, plan, connections=50, duration=0.5, timeout=0.4
        )
    assert level["peak_connections"] == 50
    assert level["requests"] == 50  # one probe echo each
    assert level["errors"] == {}
    assert level["held"] == 50


@pytest.mark.parametrize("joins", [True, False])
def test_room_broadcasts_with_and_without_a_joined_message(joins):
    with TinyServer(joins=joins) as server:
        scenario = scenarios.get("ws-broadcast")
        state = {"tag": "room1", "ids": []}
        state["joins"] = scenarios.probe_joins("127.0.0.1", server.port, "", "room1")
        plan = scenarios.plan(scenario, state, f"127.0.0.1:{server.port}", "")
        level = run_level(
            "127.0.0.1", server.port, scenario, plan, connections=20, duration=0.5, timeout=0.4
        )
    assert plan["joins"] is joins
    assert level["errors"] == {}
    assert level["requests"] >= 20 * 3  # every subscriber got several messages
    assert level["held"] == 20
