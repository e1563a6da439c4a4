"""The scenarios, all written against the shared HTTP contract.

A scenario seeds what it needs through the API (`setup`), describes what each connection
does as a plain-data plan that can cross into worker processes (`plan`), builds the
per-connection request source inside the worker (`make_source`), and removes what it and
the load created (`teardown`). Items created by a run carry a run-specific tag, so the
clean-up finds them all, including those a write mix left half-way.
"""

from __future__ import annotations

import random
import uuid
from dataclasses import dataclass

from loadtest.api import ApiClient
from loadtest.http import encode_request
from loadtest.sources import (
    CycleSource,
    WriteMixSource,
    echo_payloads,
    item_payload,
    predict_requests,
)
from loadtest.websocket import first_message, is_joined_message

SEED_ITEMS = 100
PAGE_SIZE = 20
BATCH_ROWS = 64
REQUEST_POOL = 16


@dataclass(frozen=True)
class Scenario:
    name: str
    kind: str  # "http", "ws_echo", "ws_broadcast" or "ws_idle"
    summary: str
    needs: str = ""  # the optional feature it needs: "ml", "websockets" or ""
    seeds_items: bool = False


SCENARIOS = {
    s.name: s
    for s in (
        Scenario("health", "http", "GET /health: the framework's floor"),
        Scenario("item-read", "http", "GET /api/v1/items/{id} over seeded items", seeds_items=True),
        Scenario("item-list", "http", "GET /api/v1/items?limit=20&offset=...", seeds_items=True),
        Scenario("write-mix", "http", "POST, then PATCH, then DELETE an item, repeated"),
        Scenario("predict", "http", "POST one row to the digits model", needs="ml"),
        Scenario("predict-batch", "http", f"POST {BATCH_ROWS} rows to the digits model", "ml"),
        Scenario("ws-echo", "ws_echo", "WebSocket /ws/echo round trips", needs="websockets"),
        Scenario(
            "ws-broadcast",
            "ws_broadcast",
            "room fan-out latency: one publisher, every connection subscribed",
            needs="websockets",
        ),
        Scenario(
            "ws-idle",
            "ws_idle",
            "N idle WebSocket connections held, then one echo each",
            needs="websockets",
        ),
    )
}


def get(name: str) -> Scenario:
    try:
        return SCENARIOS[name]
    except KeyError:
        raise ValueError(f"unknown scenario {name!r}; choose from {', '.join(SCENARIOS)}") from None


def setup(scenario: Scenario, api: ApiClient) -> dict:
    """Seed what the scenario needs; returns the state its plan and teardown use."""
    state: dict = {"tag": f"lt-{uuid.uuid4().hex[:12]}", "ids": []}
    if scenario.seeds_items:
        rng = random.Random(1)
        for n in range(SEED_ITEMS):
            item = api.post("/api/v1/items", item_payload(rng, state["tag"], n))
            state["ids"].append(item["id"])
    if scenario.needs == "ml":
        api.get("/api/v1/models/digits")  # fails early, and clearly, without the ML feature
    if scenario.needs == "websockets":  # fails early, and clearly, without WebSockets
        path = "/ws/echo" if scenario.kind != "ws_broadcast" else f"/ws/rooms/{state['tag']}-probe"
        first_message(api.host, api.port, api.prefix + path, wait=0)
    if scenario.kind == "ws_broadcast":
        # Services that confirm a join ({"type": "joined"}) let the publisher wait for every
        # subscriber to be in the room; with older ones a subscriber counts once it is open.
        state["joins"] = probe_joins(api.host, api.port, api.prefix, state["tag"])
    return state


def probe_joins(host: str, port: int, prefix: str, tag: str) -> bool:
    """Whether the service confirms a room join with a first `{"type": "joined"}`."""
    return is_joined_message(first_message(host, port, f"{prefix}/ws/rooms/{tag}-probe"))


def teardown(scenario: Scenario, api: ApiClient, state: dict) -> int:
    """Delete everything the run created; the number of items removed."""
    if scenario.seeds_items or scenario.name == "write-mix":
        return api.delete_tagged_items(state["tag"])
    return 0


def plan(
    scenario: Scenario, state: dict, host_header: str, prefix: str, token: str | None = None
) -> dict:
    """Plain data each worker turns into connections and request sources."""
    result: dict = {"kind": scenario.kind, "host_header": host_header, "prefix": prefix}
    result["tag"] = state["tag"]
    result["token"] = token
    result["joins"] = state.get("joins", False)
    name = scenario.name
    if name == "health":
        result["requests"] = [encode_request("GET", f"{prefix}/health", host_header)]
    elif name == "item-read":
        result["requests"] = [
            encode_request("GET", f"{prefix}/api/v1/items/{item_id}", host_header)
            for item_id in state["ids"]
        ]
    elif name == "item-list":
        result["requests"] = [
            encode_request(
                "GET", f"{prefix}/api/v1/items?limit={PAGE_SIZE}&offset={offset}", host_header
            )
            for offset in range(0, SEED_ITEMS, PAGE_SIZE)
        ]
    elif name == "predict":
        result["requests"] = predict_requests(host_header, prefix, 1, REQUEST_POOL)
    elif name == "predict-batch":
        result["requests"] = predict_requests(host_header, prefix, BATCH_ROWS, REQUEST_POOL)
    elif name == "ws-echo" or name == "ws-idle":
        result["path"] = f"{prefix}/ws/echo"
        result["payloads"] = echo_payloads(16, REQUEST_POOL)
    elif name == "ws-broadcast":
        result["path"] = f"{prefix}/ws/rooms/{state['tag']}"
    return result


def make_source(plan_data: dict, connection: int):
    """The request source of one HTTP connection (inside the worker)."""
    if plan_data.get("requests"):
        return CycleSource(plan_data["requests"], connection)
    return WriteMixSource(
        plan_data["host_header"],
        plan_data["prefix"],
        plan_data["tag"],
        connection + 1,
        plan_data.get("token"),
    )
