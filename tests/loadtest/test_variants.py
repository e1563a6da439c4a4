"""`compare --frameworks` names templates, and variants of them run with settings."""

from loadtest.compare import parse_variant, split_frameworks


def test_frameworks_split_on_commas_outside_brackets():
    assert split_frameworks("flask, fastapi,fastapi[ML_BATCHING=1,ML_BATCH_WAIT_MS=5],") == [
        "flask",
        "fastapi",
        "fastapi[ML_BATCHING=1,ML_BATCH_WAIT_MS=5]",
    ]


def test_a_variant_is_a_template_and_its_settings():
    assert parse_variant("fastapi[ML_BATCHING=1, ML_BATCH_WAIT_MS=5]") == (
        "fastapi",
        {"ML_BATCHING": "1", "ML_BATCH_WAIT_MS": "5"},
    )
    assert parse_variant("flask") == ("flask", {})


def test_granian_serves_fastapi_over_asgi_and_flask_over_wsgi():
    from pathlib import Path

    from loadtest.services import granian_command

    fastapi = granian_command(Path("/p/bench-fastapi"), Path("python"), 8000, 2, asgi=True)
    assert fastapi[:3] == ["python", "-m", "granian"]
    assert fastapi[fastapi.index("--interface") + 1] == "asgi"
    assert fastapi[-1] == "bench_fastapi.main:app"
    assert fastapi[fastapi.index("--workers") + 1] == "2"
    flask = granian_command(Path("/p/bench-flask"), Path("python"), 8000, 2, asgi=False)
    assert flask[flask.index("--interface") + 1] == "wsgi"
    assert flask[-2:] == ["--factory", "bench_flask.main:create_app"]
