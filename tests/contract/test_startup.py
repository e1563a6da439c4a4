"""Starting a generated project: migrations applied on start, and the Procfile."""

import sqlite3
import subprocess
import sys

import psycopg
import pytest

from tests.contract.harness import (
    PACKAGE,
    WORKERS,
    KeptConnection,
    free_port,
    running_service,
    service_environment,
)

HEAD_REVISION = "0003_create_users"


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


# ---- production settings ---------------------------------------------------------------------

EXAMPLE_SECRET_KEY = "change-me-to-a-random-string-of-at-least-32-characters"
GOOD_SECRET_KEY = "a-production-signing-key-of-forty-characters"
UNSAFE_PRODUCTION_SETTINGS = {
    "no SECRET_KEY": ({}, "SECRET_KEY"),
    "short SECRET_KEY": ({"SECRET_KEY": "too-short"}, "SECRET_KEY"),
    "example SECRET_KEY": ({"SECRET_KEY": EXAMPLE_SECRET_KEY}, "SECRET_KEY"),
    "CORS for everyone": ({"SECRET_KEY": GOOD_SECRET_KEY, "CORS_ORIGINS": "*"}, "CORS_ORIGINS"),
    "short admin password": (
        {"SECRET_KEY": GOOD_SECRET_KEY, "ADMIN_USERNAME": "admin", "ADMIN_PASSWORD": "short"},
        "ADMIN_PASSWORD",
    ),
}


@pytest.mark.parametrize("framework", ["flask", "fastapi"])
@pytest.mark.parametrize("case", sorted(UNSAFE_PRODUCTION_SETTINGS))
def test_production_refuses_unsafe_settings(framework, case, generated_project, tmp_path):
    settings, named = UNSAFE_PRODUCTION_SETTINGS[case]
    env = service_environment(
        generated_project(framework, "sqlite"),
        ENVIRONMENT="production",
        BIND=f"127.0.0.1:{free_port()}",
        DATABASE_URL=f"sqlite:///{tmp_path / 'refused.db'}",
        **settings,
    )
    refused = subprocess.run(
        [sys.executable, "-m", "gunicorn", "-c", "gunicorn.conf.py"],
        cwd=generated_project(framework, "sqlite"),
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert refused.returncode != 0, refused.stderr
    lines = [line for line in refused.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, refused.stderr
    assert named in lines[0], lines
    assert "Traceback" not in refused.stderr


@pytest.mark.parametrize("framework", ["flask", "fastapi"])
def test_production_starts_with_safe_settings(framework, generated_project, tmp_path):
    with (
        running_service(
            name=f"{framework}-production",
            framework=framework,
            database="sqlite",
            project_dir=generated_project(framework, "sqlite"),
            run_dir=tmp_path / "run",
            database_url=f"sqlite:///{tmp_path / 'production.db'}",
            ENVIRONMENT="production",
        ) as service,
        service.client() as client,
    ):
        assert client.get("/health").status_code == 200
        assert client.get("/api/v1/users/me").status_code == 200


@pytest.mark.parametrize("framework", ["flask", "fastapi"])
def test_development_secret_is_shared_by_every_worker(framework, generated_project, tmp_path):
    """No SECRET_KEY in development: one is generated, with a warning, for all workers."""
    with running_service(
        name=f"{framework}-generated-secret",
        framework=framework,
        database="sqlite",
        project_dir=generated_project(framework, "sqlite"),
        run_dir=tmp_path / "run",
        database_url=f"sqlite:///{tmp_path / 'development.db'}",
        SECRET_KEY=None,
    ) as service:
        assert "SECRET_KEY" in service.server.log()
        workers_seen = set()
        for _ in range(40):  # fresh connections, so both workers answer some
            connection = KeptConnection(service)
            try:
                workers_seen.add(service.worker_pid_for(connection.port))
                status = connection.get("/api/v1/users/me", service.token)
            finally:
                connection.close()
            assert status == 200
            if len(workers_seen) == WORKERS:
                break
        assert len(workers_seen) == WORKERS
