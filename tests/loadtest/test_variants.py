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
