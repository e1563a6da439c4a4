"""The floors: minimal apps that do each scenario's work, and the command that measures them."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import create_engine

from loadtest.floors import measure
from loadtest.floors.report import floors_markdown
from loadtest.floors.schema import Base
from tests.support import require_redis

REPO = Path(__file__).resolve().parents[2]
ITEM = {
    "name": "Kettle",
    "description": "steel",
    "price": 25.5,
    "tags": ["kitchen"],
    "dimensions": {"width": 1.0, "height": 2.0, "depth": 3.0},
}
ITEM_FIELDS = {"id", "created_at", "updated_at", *ITEM}


@pytest.fixture
def database(tmp_path) -> str:
    path = tmp_path / "floor.db"
    engine = create_engine(f"sqlite:///{path}")
    Base.metadata.create_all(engine)
    engine.dispose()
    return str(path)


@pytest.fixture
def redis_url() -> str:
    import redis

    url = require_redis(db=13)
    client = redis.Redis.from_url(url)
    client.flushdb()
    client.close()
    return url


def floor_client(framework: str, database: str, redis_url: str | None, monkeypatch):
    """A test client of one floor app, configured through its environment as gunicorn would."""
    prefix = "sqlite+aiosqlite" if framework == "fastapi" else "sqlite"
    monkeypatch.setenv("FLOOR_DATABASE_URL", f"{prefix}:///{database}")
    if redis_url:
        monkeypatch.setenv("FLOOR_REDIS_URL", redis_url)
    else:
        monkeypatch.delenv("FLOOR_REDIS_URL", raising=False)
    if framework == "fastapi":
        from fastapi.testclient import TestClient

        from loadtest.floors.fastapi_app import app

        return TestClient(app)
    from loadtest.floors.flask_app import create_app

    return create_app().test_client()


def body(response) -> object:
    return json.loads(response.data if hasattr(response, "data") else response.content)


@pytest.mark.parametrize("framework", ["fastapi", "flask"])
def test_floor_does_each_scenarios_work(framework, database, redis_url, monkeypatch):
    client = floor_client(framework, database, redis_url, monkeypatch)
    with client:
        assert body(client.get("/health")) == {"status": "ok"}

        created = client.post("/api/v1/items", json=ITEM)
        assert created.status_code == 201
        item = body(created)
        assert set(item) == ITEM_FIELDS
        assert {k: item[k] for k in ITEM} == ITEM
        assert item["created_at"].endswith("Z") and len(item["created_at"]) == 27
        assert created.headers["Location"] == f"/api/v1/items/{item['id']}"

        assert body(client.get(f"/api/v1/items/{item['id']}")) == item  # from the database
        assert body(client.get(f"/api/v1/items/{item['id']}")) == item  # from Redis
        assert client.get("/api/v1/items/999999").status_code == 404

        for n in range(24):
            client.post("/api/v1/items", json={**ITEM, "name": f"item {n}"})
        page = body(client.get("/api/v1/items?limit=20&offset=0"))
        assert page["total"] == 25 and page["limit"] == 20 and page["offset"] == 0
        assert len(page["items"]) == 20 and page["items"][0] == item

        invalid = client.post("/api/v1/items", json={**ITEM, "price": -1})
        assert invalid.status_code in (400, 422)


def test_cached_floor_serves_what_redis_holds(database, redis_url, monkeypatch):
    import redis

    client = floor_client("fastapi", database, redis_url, monkeypatch)
    with client:
        item = body(client.post("/api/v1/items", json=ITEM))
        client.get(f"/api/v1/items/{item['id']}")
        store = redis.Redis.from_url(redis_url)
        store.set(f"floor:item:{item['id']}", b'{"from": "cache"}')
        store.close()
        assert body(client.get(f"/api/v1/items/{item['id']}")) == {"from": "cache"}


def test_sides_alternate_so_neither_always_goes_first(monkeypatch):
    order = []

    def fake_round(server, side, requests, duration, warmup):
        order.append(side)
        rps = 800.0 if side == "template" else 1000.0
        return measure.Round(side, rps, 5.0, 0, 0.99, 0.3)

    monkeypatch.setattr(measure, "measure_round", fake_round)
    comparison = measure.Comparison("fastapi", "sqlite", measure.SCENARIOS[0])
    servers = {"template": None, "floor": None}
    measure.compare_sides(comparison, servers, {"template": [], "floor": []}, 4, 1, 0, print)

    assert order == ["template", "floor", "floor", "template"] * 2
    assert comparison.ratio == pytest.approx(0.8)
    assert comparison.met  # 0.8 >= the health target of 0.7


def test_a_servers_first_round_of_all_is_not_counted(monkeypatch):
    calls = []

    def fake_round(server, side, requests, duration, warmup):
        calls.append(server)
        rps = 100.0 if calls.count(server) == 1 else 1000.0  # slow only on its first round
        return measure.Round(side, rps, 5.0, 0, 0.99, 0.3)

    monkeypatch.setattr(measure, "measure_round", fake_round)
    template, floor, cached_floor = object(), object(), object()
    warmed: set[int] = set()
    requests = {"template": [], "floor": []}
    first = measure.Comparison("flask", "sqlite", measure.SCENARIOS[0])
    measure.compare_sides(
        first, {"template": template, "floor": floor}, requests, 2, 1, 0, print, warmed
    )
    second = measure.Comparison("flask", "sqlite", measure.SCENARIOS[1])
    measure.compare_sides(
        second, {"template": template, "floor": cached_floor}, requests, 2, 1, 0, print, warmed
    )

    assert [calls.count(server) for server in (template, floor, cached_floor)] == [5, 3, 3]
    assert first.ratio == second.ratio == 1.0
    assert len(first.rounds) == len(second.rounds) == 4


def test_report_names_every_missed_target():
    comparisons = [
        {
            "framework": "flask",
            "database": "sqlite",
            "scenario": name,
            "template_rps": 500.0,
            "floor_rps": 1000.0,
            "ratio": 0.5,
            "target": target,
            "met": target <= 0.5,
            "errors": 0,
            "template_p99_ms": 9.0,
            "floor_p99_ms": 4.0,
            "rounds": [{"generator_cpu": 0.4}],
        }
        for name, target in (("health", 0.7), ("item-list", 0.4))
    ]
    results = {
        "environment": {"cpu_model": "cpu", "cpus": 2, "python": "3.11", "placement": "p"},
        "connections": 64,
        "rounds": 2,
        "duration": 2.0,
        "warmup": 0.5,
        "comparisons": comparisons,
    }
    text = floors_markdown(results)
    assert "| flask | sqlite | health | 500 | 1,000 | 0.50 | 0.7 | **no** |" in text
    assert "| flask | sqlite | item-list | 500 | 1,000 | 0.50 | 0.4 | yes |" in text
    assert "Missed: flask sqlite health." in text


def test_floors_command_measures_template_and_floor(tmp_path):
    """One short run end to end: both sides answer, and the report and the JSON are written."""
    redis_url = require_redis(db=14)
    out = tmp_path / "floors"
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "loadtest",
            "floors",
            "--frameworks",
            "fastapi,flask",
            "--databases",
            "sqlite",
            "--scenarios",
            "health,item-read-cached,item-create",
            "--rounds",
            "1",
            "--duration",
            "0.3",
            "--warmup",
            "0.1",
            "--redis-url",
            redis_url,
            "--out",
            str(out),
        ],
        cwd=REPO,
        env={k: v for k, v in os.environ.items() if k != "PYTHONPATH"},
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode in (0, 1), done.stderr[-4000:]  # 1: a target missed on a busy box
    results = json.loads((out / "floors.json").read_text())
    measured = {(c["framework"], c["scenario"]) for c in results["comparisons"]}
    assert measured == {
        (framework, scenario)
        for framework in ("fastapi", "flask")
        for scenario in ("health", "item-read-cached", "item-create")
    }
    for comparison in results["comparisons"]:
        # A write that waited out SQLite's busy timeout on an overloaded machine is answered
        # 503, which is the service doing its job; anything else is a fault.
        kinds = {kind for r in comparison["rounds"] for kind in r["error_kinds"]}
        assert kinds <= {"status 503"}, comparison
        assert comparison["template_rps"] > 0 and comparison["floor_rps"] > 0, comparison
        assert {r["side"] for r in comparison["rounds"]} == {"template", "floor"}
    assert "| fastapi | sqlite | health |" in (out / "floors.md").read_text()
    # Standard output is the report alone: the template hook's "next steps" go to stderr.
    assert done.stdout.startswith("## Templates against their floors"), done.stdout[:300]


def test_calls_counts_a_request_through_uvicorns_protocol(database, monkeypatch, capsys):
    """The floor's /health, driven through uvicorn's protocol: answered, and counted the same
    way twice (the count is what makes it useful on a noisy machine)."""
    from loadtest.floors import calls

    monkeypatch.setenv("FLOOR_DATABASE_URL", f"sqlite+aiosqlite:///{database}")
    app = "loadtest.floors.fastapi_app:app"
    assert calls.main([app, "--requests", "50", "--top", "3"]) == 0
    first = capsys.readouterr().out
    assert calls.main([app, "--requests", "50", "--top", "3"]) == 0
    second = capsys.readouterr().out

    headline = first.splitlines()[0]
    assert headline.startswith(f"{app}: ") and headline.endswith(" calls per request")
    per_request = float(headline.split(": ")[1].split()[0].replace(",", ""))
    assert 50 < per_request < 5000
    assert len(first.splitlines()) == 1 + 3 + 1  # headline, top 3, last bytes
    assert '{"status":"ok"}' in first.splitlines()[-1]
    assert first.splitlines()[0] == second.splitlines()[0]


def test_calls_counts_a_wsgi_app_from_its_factory(database, monkeypatch, capsys):
    from loadtest.floors import calls

    monkeypatch.setenv("FLOOR_DATABASE_URL", f"sqlite:///{database}")
    app = "loadtest.floors.flask_app:create_app()"
    assert calls.main(["--wsgi", app, "--requests", "50", "--top", "2"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith(f"{app}: ") and lines[0].endswith(" calls per request")
    assert len(lines) == 1 + 2 + 1
    assert "status" in lines[-1] and "ok" in lines[-1]
