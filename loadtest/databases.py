"""The database the compared services run on: a SQLite file each, or a fresh PostgreSQL
database per service on the local server, dropped after the run."""

from __future__ import annotations

import contextlib
import secrets
import shutil
import subprocess
from collections.abc import Iterator

POSTGRES = {"host": "127.0.0.1", "port": "5432", "user": "postgres"}


def describe(database: str) -> str:
    if database == "postgresql":
        return f"PostgreSQL on {POSTGRES['host']}:{POSTGRES['port']} (a fresh database each)"
    return "SQLite file (WAL)"


def psql(sql: str) -> None:
    from loadtest.services import ServiceError

    if not shutil.which("psql"):
        raise ServiceError("--database postgresql needs psql (apt-get install postgresql-client)")
    command = ["psql", "-h", POSTGRES["host"], "-p", POSTGRES["port"], "-U", POSTGRES["user"]]
    done = subprocess.run(
        [*command, "-d", "postgres", "-v", "ON_ERROR_STOP=1", "-qc", sql],
        capture_output=True,
        text=True,
    )
    if done.returncode != 0:
        raise ServiceError(f"PostgreSQL: {sql}: {done.stderr.strip()}")


@contextlib.contextmanager
def scratch(database: str, label: str) -> Iterator[str | None]:
    """The DATABASE_URL to run with (None: the service's own SQLite default)."""
    if database != "postgresql":
        yield None
        return
    name = f"loadtest_{label.replace('-', '_').replace('.', '_')}_{secrets.token_hex(4)}".lower()
    psql(f'CREATE DATABASE "{name}"')
    try:
        yield f"postgresql://{POSTGRES['user']}@{POSTGRES['host']}:{POSTGRES['port']}/{name}"
    finally:
        psql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
