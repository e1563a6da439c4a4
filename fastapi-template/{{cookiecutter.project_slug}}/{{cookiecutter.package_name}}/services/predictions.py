"""Running the model without blocking the event loop, one request at a time or micro-batched.

Micro-batching (ML_BATCHING=1) gathers the rows of requests that arrive close together
into one `model.predict` call: the first request opens a batch, which closes after
ML_BATCH_WAIT_MS or once it holds ML_BATCH_MAX_ROWS rows, whichever comes first. One call
over many rows costs far less than many calls over a few, so under concurrent load
throughput rises for the price of that short wait. Results are identical either way.
"""

import asyncio
import logging
from contextlib import suppress
from typing import Any

from starlette.concurrency import run_in_threadpool

from {{ cookiecutter.package_name }}.ml.model import DigitsModel

logger = logging.getLogger(__name__)

Rows = list[list[float]]
Predictions = list[dict[str, Any]]
# One caller's rows, and the future its predictions are delivered through.
BatchRequest = tuple[Rows, asyncio.Future[Predictions]]


async def predict(model: DigitsModel, rows: Rows) -> Predictions:
    """One model call in a worker thread."""
    return await run_in_threadpool(model.predict, rows)


class MicroBatcher:
    def __init__(self, model: DigitsModel, max_rows: int, wait_ms: float) -> None:
        self.model = model
        self.max_rows = max_rows
        self.wait_seconds = wait_ms / 1000
        self._queue: asyncio.Queue[BatchRequest] = asyncio.Queue()
        self._worker: asyncio.Task[None] | None = None

    async def start(self) -> None:
        self._worker = asyncio.create_task(self._run(), name="ml-micro-batcher")

    async def stop(self) -> None:
        if self._worker is not None:
            self._worker.cancel()
            with suppress(asyncio.CancelledError):
                await self._worker

    async def predict(self, rows: Rows) -> Predictions:
        future: asyncio.Future[Predictions] = asyncio.get_running_loop().create_future()
        await self._queue.put((rows, future))
        return await future

    async def _run(self) -> None:
        pending: BatchRequest | None = None  # a request that did not fit in the previous batch
        while True:
            first = pending or await self._queue.get()
            batch, pending = await self._collect(first)
            await self._predict_batch(batch)

    async def _collect(self, first: BatchRequest) -> tuple[list[BatchRequest], BatchRequest | None]:
        """Requests for one batch, and the request that would have overfilled it, if any."""
        batch = [first]
        size = len(first[0])
        deadline = asyncio.get_running_loop().time() + self.wait_seconds
        while size < self.max_rows:
            remaining = deadline - asyncio.get_running_loop().time()
            if remaining <= 0:
                break
            try:
                request = await asyncio.wait_for(self._queue.get(), remaining)
            except TimeoutError:
                break
            if size + len(request[0]) > self.max_rows:
                return batch, request
            batch.append(request)
            size += len(request[0])
        return batch, None

    async def _predict_batch(self, batch: list[BatchRequest]) -> None:
        rows = [row for request_rows, _ in batch for row in request_rows]
        try:
            predictions = await predict(self.model, rows)
        except Exception as exc:
            logger.exception("Batched prediction failed")
            for _, future in batch:
                if not future.done():
                    future.set_exception(exc)
            return
        start = 0
        for request_rows, future in batch:
            end = start + len(request_rows)
            if not future.done():  # its client may have gone away meanwhile
                future.set_result(predictions[start:end])
            start = end
