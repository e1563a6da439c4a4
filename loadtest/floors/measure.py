"""Template against floor: the same scenario on both, in alternating rounds, as ratios.

Each scenario runs on the template and on its floor in turns, ABBA (template, floor,
floor, template, ...), so drift in a shared machine's speed falls on both sides alike.
Every round also records the CPU time the server and the generator used: a server near
100% of its core and a generator well below its own show that the server was the limit.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from loadtest import scenarios
from loadtest.http import encode_json_request, encode_request, split_url
from loadtest.runner import run_level
from loadtest.sources import item_payload

CONNECTIONS = 64
PAGE_SIZE = 20
CREATE_POOL = 16


@dataclass(frozen=True)
class FloorScenario:
    name: str
    summary: str
    target: float  # the least template/floor ratio this scenario must reach
    cached: bool = False  # served with Redis in front of the item read


SCENARIOS = [
    FloorScenario("health", "GET /health", 0.7),
    FloorScenario("item-read-cached", "GET /api/v1/items/{id}, cached in Redis", 0.7, cached=True),
    FloorScenario("item-read-db", "GET /api/v1/items/{id} from the database", 0.6),
    FloorScenario("item-list", "GET /api/v1/items?limit=20 with its count", 0.6),
    FloorScenario("item-create", "POST /api/v1/items", 0.6),
]
SCENARIO_NAMES = [s.name for s in SCENARIOS]


def requests_for(name: str, host_header: str, ids: list[int], tag: str) -> list[bytes]:
    """The pre-encoded requests one connection cycles through."""
    if name == "health":
        return [encode_request("GET", "/health", host_header)]
    if name in ("item-read-cached", "item-read-db"):
        return [encode_request("GET", f"/api/v1/items/{i}", host_header) for i in ids]
    if name == "item-list":
        return [
            encode_request("GET", f"/api/v1/items?limit={PAGE_SIZE}&offset={offset}", host_header)
            for offset in range(0, len(ids), PAGE_SIZE)
        ]
    if name == "item-create":
        import random

        rng = random.Random(7)
        return [
            encode_json_request("POST", "/api/v1/items", host_header, item_payload(rng, tag, n))
            for n in range(CREATE_POOL)
        ]
    raise ValueError(f"unknown floor scenario {name!r}")


@dataclass
class Round:
    side: str  # "template" or "floor"
    rps: float
    p99_ms: float
    errors: int
    server_cpu: float  # share of one core the server's processes used
    generator_cpu: float  # share of one core this generator used
    error_kinds: dict[str, int] = field(default_factory=dict)  # e.g. {"status 503": 1}

    def to_dict(self) -> dict:
        return self.__dict__.copy()


@dataclass
class Comparison:
    framework: str
    database: str
    scenario: FloorScenario
    rounds: list[Round] = field(default_factory=list)

    def side(self, side: str) -> list[Round]:
        return [r for r in self.rounds if r.side == side]

    def rps(self, side: str) -> float:
        rounds = self.side(side)
        return sum(r.rps for r in rounds) / len(rounds) if rounds else 0.0

    def p99(self, side: str) -> float:
        rounds = self.side(side)
        return max(r.p99_ms for r in rounds) if rounds else 0.0

    @property
    def ratio(self) -> float:
        floor = self.rps("floor")
        return self.rps("template") / floor if floor else 0.0

    @property
    def errors(self) -> int:
        return sum(r.errors for r in self.rounds)

    @property
    def met(self) -> bool:
        return self.errors == 0 and self.ratio >= self.scenario.target

    def to_dict(self) -> dict:
        return {
            "framework": self.framework,
            "database": self.database,
            "scenario": self.scenario.name,
            "summary": self.scenario.summary,
            "target": self.scenario.target,
            "template_rps": round(self.rps("template"), 1),
            "floor_rps": round(self.rps("floor"), 1),
            "ratio": round(self.ratio, 3),
            "template_p99_ms": self.p99("template"),
            "floor_p99_ms": self.p99("floor"),
            "errors": self.errors,
            "met": self.met,
            "rounds": [r.to_dict() for r in self.rounds],
        }


def measure_round(server, side: str, requests: list[bytes], duration: float, warmup: float):
    host, port, _ = split_url(server.url)
    scenario = scenarios.Scenario("floors", "http", "template against floor")
    plan = {"kind": "http", "requests": requests, "host_header": f"{host}:{port}", "prefix": ""}
    time.sleep(0.3)  # let the last round's closed connections drain
    server_before, own_before, wall_before = server.cpu_seconds(), time.process_time(), time.time()
    # the window may run on until the level is steady, long enough for the timeout to fire
    longest = duration + 10.5
    level = run_level(
        host,
        port,
        scenario,
        plan,
        CONNECTIONS,
        duration,
        timeout=10.0,
        warmup=warmup,
        max_duration=longest,
    )
    wall = time.time() - wall_before
    return Round(
        side=side,
        rps=level["rps"],
        p99_ms=level["latency_ms"]["p99"],
        errors=sum(level["errors"].values()),
        error_kinds=dict(level["errors"]),
        server_cpu=round((server.cpu_seconds() - server_before) / wall, 3),
        generator_cpu=round((time.process_time() - own_before) / wall, 3),
    )


def compare_sides(
    comparison: Comparison,
    servers: dict[str, object],
    requests: dict[str, list[bytes]],
    rounds: int,
    duration: float,
    warmup: float,
    log=print,
    warmed: set[int] | None = None,
) -> Comparison:
    """`rounds` rounds per side, alternating ABBA so that neither side always goes first.

    A server's first round of all is run and thrown away (`warmed` holds the ids of the
    servers that have had theirs): a server that has just started, its pools and caches
    still empty, ran its first round as much as 45% slower than its next ones, with Redis
    in front of the item read.
    """
    if warmed is not None:
        for side, server in servers.items():
            if id(server) not in warmed:
                measure_round(server, side, requests[side], duration, warmup)
                warmed.add(id(server))
                log(f"   {comparison.framework:8} {comparison.database:10} {side} warmed up")
    for n in range(rounds):
        order = ("template", "floor") if n % 2 == 0 else ("floor", "template")
        for side in order:
            result = measure_round(servers[side], side, requests[side], duration, warmup)
            comparison.rounds.append(result)
            log(
                f"   {comparison.framework:8} {comparison.database:10} "
                f"{comparison.scenario.name:17} {side:8} {result.rps:>9,.0f} req/s  "
                f"p99 {result.p99_ms:7.1f} ms  server cpu {result.server_cpu:4.0%}  "
                f"generator cpu {result.generator_cpu:4.0%}"
                + (f"  errors {result.errors}" if result.errors else "")
            )
    return comparison
