"""A database connection pool that hands connections to waiting requests in arrival order.

SQLAlchemy's asyncio pool keeps idle connections in an `asyncio.Queue`. A connection that
comes back wakes the longest-waiting request, but any request that runs before it wakes
takes the connection first, and the woken one queues again at the back
(sqlalchemy/sqlalchemy#7679). Under load that happens all the time: a finished request's
client sends its next request straight away. Measured with asyncpg on one worker (64
connections, the default 5 + 10 connections): most item reads answered in 13 ms while one in
ten waited 1.5 s or more, up to 6 s. With turns taken in order: 99% within 110-220 ms.
"""

import asyncio
from typing import Any

from sqlalchemy.exc import TimeoutError as PoolTimeoutError
from sqlalchemy.pool import AsyncAdaptedQueuePool, ConnectionPoolEntry
from sqlalchemy.util import await_


class FairAsyncQueuePool(AsyncAdaptedQueuePool):
    """SQLAlchemy's asyncio pool behind a first-come, first-served queue.

    A request takes a turn (one per connection the pool may open) before it takes a
    connection, and gives it back with the connection. asyncio's semaphore wakes waiters in
    order and lets nobody past while one waits, so the pool itself never has to wait.
    """

    def __init__(self, creator: Any, pool_size: int = 5, max_overflow: int = 10, **kwargs: Any):
        if pool_size < 1 or max_overflow < 0:
            raise ValueError("a fair pool needs a bounded size: pool_size >= 1, max_overflow >= 0")
        super().__init__(creator, pool_size=pool_size, max_overflow=max_overflow, **kwargs)
        self._turns = asyncio.Semaphore(pool_size + max_overflow)

    async def _take_turn(self) -> None:
        try:
            async with asyncio.timeout(self._timeout):
                await self._turns.acquire()
        except TimeoutError:
            raise PoolTimeoutError(
                f"No database connection was free within {self._timeout:g} s "
                f"(pool size {self.size()}, overflow {self._max_overflow})"
            ) from None

    def _do_get(self) -> ConnectionPoolEntry:
        await_(self._take_turn())
        try:
            return super()._do_get()
        except BaseException:
            self._turns.release()
            raise

    def _do_return_conn(self, record: ConnectionPoolEntry) -> None:
        try:
            super()._do_return_conn(record)
        finally:
            self._turns.release()
