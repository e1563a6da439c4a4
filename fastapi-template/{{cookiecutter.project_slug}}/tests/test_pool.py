"""The application's connection pool: waiting requests served in the order they came."""

import asyncio
import random
import time
from pathlib import Path

import pytest
from sqlalchemy import exc, text
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from {{ cookiecutter.package_name }}.core.db import create_database_engine
from {{ cookiecutter.package_name }}.core.pool import FairAsyncQueuePool

CLIENTS = 60
CONNECTIONS = 2
TURNS = 30


def sqlite_engine(path: Path, **pool_settings) -> AsyncEngine:
    return create_async_engine(
        f"sqlite+aiosqlite:///{path}", poolclass=FairAsyncQueuePool, **pool_settings
    )


def turns_per_client(engine: AsyncEngine) -> list[int]:
    """Many clients, each taking a connection for one query, pausing, and again, until one
    of them has had TURNS turns. Each pause ends at its own moment, so newcomers keep
    arriving just as connections come back."""
    finished = asyncio.Event()

    async def client() -> int:
        turns = 0
        while not finished.is_set():
            async with engine.connect() as connection:
                await connection.execute(text("SELECT 1"))
            turns += 1
            if turns == TURNS:
                finished.set()
            await asyncio.sleep(random.random() * 0.004)
        return turns

    async def run() -> list[int]:
        try:
            return list(await asyncio.gather(*(client() for _ in range(CLIENTS))))
        finally:
            await engine.dispose()

    return asyncio.run(run())


def test_waiting_clients_take_equal_turns(tmp_path: Path):
    # With SQLAlchemy's own asyncio pool the unluckiest client had had 18 to 23 turns when
    # the luckiest reached 30 (idle or busy machine alike); in arrival order, 29.
    engine = sqlite_engine(tmp_path / "pool.db", pool_size=CONNECTIONS, max_overflow=0)
    turns = turns_per_client(engine)
    assert min(turns) >= TURNS - 3, sorted(turns)


def test_a_client_that_waits_past_the_pool_timeout_gets_a_timeout_error(tmp_path: Path):
    engine = sqlite_engine(tmp_path / "pool.db", pool_size=1, max_overflow=0, pool_timeout=0.2)

    async def run() -> None:
        try:
            async with engine.connect():
                started = time.monotonic()
                with pytest.raises(exc.TimeoutError, match="within 0.2 s"):
                    async with engine.connect():
                        pass
                assert 0.15 < time.monotonic() - started < 2
            # The connection came back, and the timed-out wait took no turn with it.
            async with engine.connect() as connection:
                assert await connection.scalar(text("SELECT 1")) == 1
        finally:
            await engine.dispose()

    asyncio.run(run())


def test_a_connection_that_cannot_be_opened_gives_its_turn_back(tmp_path: Path):
    engine = sqlite_engine(
        tmp_path / "no such directory" / "pool.db", pool_size=1, max_overflow=0, pool_timeout=1
    )

    async def run() -> None:
        try:
            for _ in range(3):  # the only turn, each time: a TimeoutError would mean it leaked
                with pytest.raises(exc.OperationalError, match="unable to open database"):
                    async with engine.connect():
                        pass
            # aiosqlite stops a failed connection's thread after raising the error; let those
            # threads finish while this event loop still runs.
            await asyncio.sleep(0.2)
        finally:
            await engine.dispose()

    asyncio.run(run())


def test_an_unbounded_pool_cannot_be_fair():
    with pytest.raises(ValueError, match="bounded"):
        FairAsyncQueuePool(lambda: None, pool_size=5, max_overflow=-1)


def test_an_sqlite_file_gets_the_fair_pool_and_an_in_memory_database_one_connection(
    tmp_path: Path,
):
    file_engine = create_database_engine(f"sqlite:///{tmp_path / 'app.db'}")
    memory_engine = create_database_engine("sqlite://")

    async def run() -> int:
        try:
            async with memory_engine.begin() as connection:
                await connection.execute(text("CREATE TABLE t (n INTEGER)"))
                await connection.execute(text("INSERT INTO t VALUES (7)"))
            # Another checkout sees the same database: an in-memory one lives in its connection.
            async with memory_engine.connect() as connection:
                return int(await connection.scalar(text("SELECT n FROM t")))
        finally:
            await file_engine.dispose()
            await memory_engine.dispose()

    assert isinstance(file_engine.pool, FairAsyncQueuePool)
    assert not isinstance(memory_engine.pool, FairAsyncQueuePool)
    assert asyncio.run(run()) == 7

{%- if cookiecutter.database == "postgresql" %}


@pytest.mark.parametrize("fresh_database_url", ["postgresql"], indirect=True)
def test_postgresql_urls_get_asyncpg_with_libpq_parameters_and_the_fair_pool(
    fresh_database_url: str,
):
    # fresh_database_url names its schema with libpq's `options=-csearch_path=...`.
    engine = create_database_engine(fresh_database_url)

    async def run() -> tuple[str, str]:
        try:
            async with engine.connect() as connection:
                driver = connection.dialect.driver
                return driver, await connection.scalar(text("SHOW search_path"))
        finally:
            await engine.dispose()

    assert isinstance(engine.pool, FairAsyncQueuePool)
    driver, search_path = asyncio.run(run())
    assert driver == "asyncpg"
    assert search_path.startswith("migrations_")
{%- endif %}
