"""Starting a generated project: migrations applied on start, and the Procfile."""

import sqlite3

import psycopg

from tests.contract.harness import PACKAGE

HEAD_REVISION = "0002_create_jobs"


def applied_revisions(database_url: str) -> list[str]:
    query = "SELECT version_num FROM alembic_version"
    if database_url.startswith("sqlite:///"):
        with sqlite3.connect(database_url.removeprefix("sqlite:///")) as connection:
            return [row[0] for row in connection.execute(query)]
    with psycopg.connect(database_url, connect_timeout=5) as connection:
        return [row[0] for row in connection.execute(query)]


def test_migrations_ran_to_head_on_start(service):
    assert applied_revisions(service.database_url) == [HEAD_REVISION]


def test_procfile_names_web_and_worker(service):
    entries = dict(
        line.split(":", 1)
        for line in (service.project_dir / "Procfile").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    )
    assert "gunicorn -c gunicorn.conf.py" in entries["web"]
    assert "celery" in entries["worker"] and f"{PACKAGE}.worker" in entries["worker"]
