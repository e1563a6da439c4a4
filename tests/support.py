"""Helpers shared by the repository's tests: generating projects and reaching real services."""

import contextlib
import os
import socket
import uuid
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import pytest
from cookiecutter.main import cookiecutter

REPO_ROOT = Path(__file__).resolve().parent.parent
TEMPLATES = ("flask", "fastapi")
POSTGRES_ADMIN_URL = os.environ.get(
    "TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test"
)
REDIS_HOST = "127.0.0.1"
REDIS_PORT = int(os.environ.get("TEST_REDIS_PORT", "6379"))
IN_CI = os.environ.get("CI", "").lower() == "true"


def generate(template: str, output_dir: Path, **context) -> Path:
    """Generate a project from one template, non-interactively, and return its directory."""
    project_dir = cookiecutter(
        str(REPO_ROOT),
        directory=f"{template}-template",
        no_input=True,
        output_dir=str(output_dir),
        extra_context=context,
    )
    return Path(project_dir)


def _generate_job(job: tuple[str, Path, dict]) -> Path:
    template, output_dir, context = job
    return generate(template, output_dir, **context)


def generate_many(template: str, jobs: list[tuple[Path, dict]]) -> list[Path]:
    """Generate several projects of one template, two processes at a time (the machines have
    two cores; cookiecutter changes the working directory, so never threads)."""
    with ProcessPoolExecutor(max_workers=2) as pool:
        return list(pool.map(_generate_job, [(template, out, ctx) for out, ctx in jobs]))


def unavailable(what: str) -> None:
    """A test that needs a real service fails under CI and skips elsewhere."""
    message = f"{what} is not reachable; start it (bash .ci/setup.sh does)"
    if IN_CI:
        pytest.fail(message)
    pytest.skip(message)


def port_open(host: str, port: int) -> bool:
    with contextlib.suppress(OSError), socket.create_connection((host, port), timeout=1):
        return True
    return False


def require_redis(db: int) -> str:
    if not port_open(REDIS_HOST, REDIS_PORT):
        unavailable(f"Redis at {REDIS_HOST}:{REDIS_PORT}")
    return f"redis://{REDIS_HOST}:{REDIS_PORT}/{db}"


@contextlib.contextmanager
def scratch_database(prefix: str) -> Iterator[str]:
    """Create a fresh PostgreSQL database for one test and drop it afterwards."""
    import psycopg

    name = f"{prefix}_{uuid.uuid4().hex[:10]}"
    try:
        admin = psycopg.connect(POSTGRES_ADMIN_URL, autocommit=True, connect_timeout=3)
    except psycopg.OperationalError:
        unavailable("PostgreSQL at 127.0.0.1:5432")
    with admin:
        admin.execute(f'CREATE DATABASE "{name}"')
        try:
            yield POSTGRES_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"
        finally:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
