"""Request sources: what one HTTP connection sends next.

A source hands out pre-encoded request bytes. Sources that must react to responses (the
write mix needs the id of the item it just created) set `observe`; the others leave it
None so the engine's hot path skips the call.
"""

from __future__ import annotations

import json
import random

from loadtest.http import encode_json_request, encode_request, header_value


class CycleSource:
    """Round-robin over a fixed list of requests, starting at a per-connection offset."""

    __slots__ = ("requests", "index", "observe", "keep_body", "fixed")

    def __init__(self, requests: list[bytes], start: int = 0) -> None:
        self.requests = requests
        self.fixed = requests[0] if len(requests) == 1 else None
        self.index = start % len(requests)
        self.observe = None
        self.keep_body = False

    def next(self) -> bytes:
        index = self.index
        self.index = (index + 1) % len(self.requests)
        return self.requests[index]


def item_payload(rng: random.Random, tag: str, n: int) -> dict:
    return {
        "name": f"load item {n}",
        "description": "created by the load test",
        "price": round(rng.uniform(1, 1000), 2),
        "tags": [tag, "load"],
        "dimensions": {"width": 1.5, "height": 2.0, "depth": 0.5},
    }


class WriteMixSource:
    """Create an item, update it, delete it; again. One request in flight at a time."""

    __slots__ = (
        "host",
        "prefix",
        "tag",
        "rng",
        "step",
        "item_path",
        "serial",
        "keep_body",
        "headers",
    )

    def __init__(self, host: str, prefix: str, tag: str, seed: int, token: str | None = None):
        # writes need the bearer token in services with authentication
        self.headers = {"Authorization": f"Bearer {token}"} if token else {}
        self.host = host
        self.prefix = prefix
        self.tag = tag
        self.rng = random.Random(seed)
        self.step = 0
        self.item_path = ""
        self.serial = seed * 1_000_000
        self.keep_body = False

    def next(self) -> bytes:
        if self.step == 0 or not self.item_path:
            self.serial += 1
            return encode_json_request(
                "POST",
                f"{self.prefix}/api/v1/items",
                self.host,
                item_payload(self.rng, self.tag, self.serial),
                self.headers,
            )
        if self.step == 1:
            patch = {"price": round(self.rng.uniform(1, 1000), 2)}
            return encode_json_request("PATCH", self.item_path, self.host, patch, self.headers)
        return encode_request("DELETE", self.item_path, self.host, headers=self.headers)

    def observe(self, status: int, head: bytes, body: bytes) -> None:
        if self.step == 0 or not self.item_path:
            location = header_value(head, b"location") if status == 201 else None
            if location is None:
                self.step = 0
                return
            path = location.decode("latin-1")
            if "://" in path:  # an absolute URL: keep the path
                path = "/" + path.split("://", 1)[1].split("/", 1)[1]
            self.item_path = path
            self.step = 1
        elif self.step == 1:
            self.step = 2
        else:
            self.item_path = ""
            self.step = 0


def digits_rows(rng: random.Random, count: int) -> list[list[int]]:
    """Plausible 8x8 digit images: a few bright strokes on a dark background."""
    rows = []
    for _ in range(count):
        row = [0] * 64
        for _stroke in range(rng.randint(10, 24)):
            row[rng.randrange(64)] = rng.randint(4, 16)
        rows.append(row)
    return rows


def predict_requests(host: str, prefix: str, rows_per_request: int, pool: int) -> list[bytes]:
    rng = random.Random(rows_per_request)
    path = f"{prefix}/api/v1/models/digits/predict"
    return [
        encode_json_request("POST", path, host, {"inputs": digits_rows(rng, rows_per_request)})
        for _ in range(pool)
    ]


def echo_payloads(size: int, pool: int) -> list[bytes]:
    return [json.dumps({"seq": n, "pad": "x" * size}).encode() for n in range(pool)]
