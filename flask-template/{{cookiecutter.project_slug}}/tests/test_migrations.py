"""Instances that start together on a fresh database apply the migrations once.

`upgrade_database()` runs the upgrade inside `migration_lock`. Threads stand in for the
instances here, each with its own app and connections: they race on a fresh SQLite
file and, when TEST_DATABASE_URL is a PostgreSQL database, on a fresh schema in it.
"""

import logging
import threading
import time
from collections.abc import Iterator

import pytest
from alembic.script import ScriptDirectory
from sqlalchemy import create_engine, text

from {{ cookiecutter.package_name }}.core.config import sqlalchemy_url
from {{ cookiecutter.package_name }}.core.db import MIGRATIONS_DIR, upgrade_database

RACERS = 3
TIMEOUT = 30


class Recorder(logging.Handler):
    def __init__(self) -> None:
        super().__init__()
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())


@pytest.fixture
def migration_log() -> Iterator[Recorder]:
    """What Alembic says while it migrates, kept from the application's own log handlers."""
    logger = logging.getLogger("alembic.runtime.migration")
    level, propagate = logger.level, logger.propagate
    recorder = Recorder()
    logger.addHandler(recorder)
    logger.setLevel(logging.INFO)
    logger.propagate = False
    yield recorder
    logger.removeHandler(recorder)
    logger.setLevel(level)
    logger.propagate = propagate


def applied_revisions(database_url: str) -> list[str]:
    engine = create_engine(sqlalchemy_url(database_url))
    try:
        with engine.connect() as connection:
            return list(connection.scalars(text("SELECT version_num FROM alembic_version")))
    finally:
        engine.dispose()


def test_racing_instances_apply_the_migrations_once(fresh_database_url, migration_log, monkeypatch):
    monkeypatch.setenv("DATABASE_URL", fresh_database_url)
    start = threading.Barrier(RACERS)
    errors: list[BaseException] = []

    def start_instance() -> None:
        start.wait()
        try:
            upgrade_database()
        except BaseException as error:
            errors.append(error)

    # Daemon threads: should the instances ever deadlock, the test fails instead of hanging.
    racers = [threading.Thread(target=start_instance, daemon=True) for _ in range(RACERS)]
    for racer in racers:
        racer.start()
    deadline = time.monotonic() + TIMEOUT
    for racer in racers:
        racer.join(max(0.0, deadline - time.monotonic()))
    assert not any(racer.is_alive() for racer in racers), "the instances are stuck"
    assert errors == []

    scripts = ScriptDirectory(str(MIGRATIONS_DIR))
    assert applied_revisions(fresh_database_url) == [scripts.get_current_head()]
    # Alembic logs "Running upgrade ..." once per migration it applies: each migration was
    # applied by one instance only, and the others found nothing left to do.
    applied = [m for m in migration_log.messages if m.startswith("Running upgrade")]
    assert len(applied) == len(list(scripts.walk_revisions()))
