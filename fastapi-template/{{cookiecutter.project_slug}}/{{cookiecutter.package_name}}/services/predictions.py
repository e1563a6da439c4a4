"""Running the model without blocking the event loop, one request at a time or micro-batched.

Micro-batching (ML_BATCHING=1) gathers the rows of requests that arrive close together
into one `model.predict` call: the first request opens a batch, which closes once it holds
ML_BATCH_MAX_ROWS rows, or ML_BATCH_WAIT_MS later. If the model is still busy with the
previous batch then, the batch goes on gathering until the model is free: it could not
start any sooner, and the fuller it is the fewer calls. One call over many rows costs far
less than many calls over a few, so under concurrent load throughput rises for the price
of that short wait. The labels are the same either way; the probabilities can differ in
their last float32 digits.
"""

import asyncio
import logging
from concurrent.futures import ThreadPoolExecutor
from functools import partial
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
    """Batches concurrent predictions for a model thread of their own.

    Everything but the model call runs on the event loop, without locks: a request joins
    the open batch in `predict`, and a timer (one per batch, not one per request) or a full
    batch hands it to the model thread. The next batch gathers while the model runs.
    """

    def __init__(self, model: DigitsModel, max_rows: int, wait_ms: float) -> None:
        self.model = model
        self.max_rows = max_rows
        self.wait_seconds = wait_ms / 1000
        # One thread, like the model's own single intra-op thread: batches run one at a
        # time, and a full batch that cannot start yet waits in the executor's queue.
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="ml-batch")
        self._batch: list[BatchRequest] = []  # the open batch
        self._batch_rows = 0
        self._timer: asyncio.TimerHandle | None = None
        self._due = False  # its time is up, but the model is busy: it goes when the model is free
        self._running: set[asyncio.Future[Predictions]] = set()  # batches handed to the thread
        self._stopped = False

    async def stop(self) -> None:
        """Finish every request accepted so far; refuse those that come after."""
        self._stopped = True
        self._close_batch()
        while self._running:
            await asyncio.wait(self._running)
        self._executor.shutdown()

    async def predict(self, rows: Rows) -> Predictions:
        if self._stopped:
            raise RuntimeError("The micro-batcher has stopped")
        if self._batch_rows + len(rows) > self.max_rows:
            self._close_batch()  # these rows would overfill the open batch: they start the next
        loop = asyncio.get_running_loop()
        future: asyncio.Future[Predictions] = loop.create_future()
        self._batch.append((rows, future))
        self._batch_rows += len(rows)
        if self._batch_rows >= self.max_rows:
            self._close_batch()
        elif self._timer is None and not self._due:
            self._timer = loop.call_later(self.wait_seconds, self._time_is_up)
        return await future

    def _time_is_up(self) -> None:
        self._timer = None
        if self._running:
            self._due = True
        else:
            self._close_batch()

    def _close_batch(self) -> None:
        """Hand the open batch to the model thread."""
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        self._due = False
        # A caller that has gone away (its future cancelled) needs no rows computed.
        batch = [request for request in self._batch if not request[1].done()]
        self._batch, self._batch_rows = [], 0
        if not batch:
            return
        rows = [row for request_rows, _ in batch for row in request_rows]
        run = asyncio.get_running_loop().run_in_executor(self._executor, self.model.predict, rows)
        self._running.add(run)
        run.add_done_callback(partial(self._deliver, batch))

    def _deliver(self, batch: list[BatchRequest], run: asyncio.Future[Predictions]) -> None:
        self._running.discard(run)
        if self._due and not self._running:
            self._close_batch()  # the model is free: the next batch starts before these return
        error = run.exception()
        if error is not None:
            logger.error("Batched prediction for %d requests failed", len(batch), exc_info=error)
            for _, future in batch:
                if not future.done():
                    future.set_exception(error)
            return
        predictions = run.result()
        start = 0
        for request_rows, future in batch:
            end = start + len(request_rows)
            if not future.done():  # its caller may have gone away meanwhile
                future.set_result(predictions[start:end])
            start = end
