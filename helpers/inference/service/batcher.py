"""Micro-batching: requests that arrive within a window are answered by one batched call.

A ``MicroBatcher`` owns a bounded queue of jobs (one per request) and one worker task on the
event loop. The worker waits for a first job, keeps collecting until the batch holds
``max_batch`` options or ``max_wait_ms`` have passed since that first job, then runs the batch
function in an executor thread, so that the event loop keeps accepting requests while the
model computes, and hands each job its own rows of the answer.

What no request may do to the others:

- a full queue answers at once (``QueueFull``, the server's 503), it does not wait;
- a job whose deadline passes before its batch runs is dropped (``DeadlineExceeded``, 504);
- a job whose client went away (its future cancelled) is dropped from the batch before the
  batch runs, and never holds the worker waiting (ray-project/ray#50046 is that failure);
- an exception of the batch function fails that batch's jobs only.

``stop`` lets the worker answer every job already queued, then ends it: graceful shutdown.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import Callable, Sequence
from concurrent.futures import Executor
from dataclasses import dataclass, field

import numpy as np

BatchFunction = Callable[[np.ndarray, np.ndarray | None], Sequence[np.ndarray] | np.ndarray]
"""``run(X, extra)``: options of shape ``(n, 6)`` and per-option extras of shape ``(n,)`` (or
``None``) to an array whose first axis has ``n`` rows, or a sequence of such arrays."""


class QueueFull(Exception):
    """The batcher's queue holds ``queue_size`` jobs: come back later."""


class DeadlineExceeded(Exception):
    """The job's deadline passed before its batch ran."""


@dataclass(eq=False)
class Job:
    """One request: its options, their extras, when it must be answered by, and its answer."""

    X: np.ndarray
    extra: np.ndarray | None
    deadline: float
    future: asyncio.Future = field(repr=False)
    queued_at: float = field(default_factory=time.perf_counter)

    @property
    def size(self) -> int:
        return len(self.X)


@dataclass
class BatchStats:
    """Counts since the batcher started: batches run, options in them, jobs dropped."""

    batches: int = 0
    options: int = 0
    cancelled: int = 0
    expired: int = 0
    failed: int = 0
    sizes: list[int] = field(default_factory=list)


class MicroBatcher:
    """Collects jobs into batches and runs them, one batch at a time.

    Args:
        run: the batch function (``BatchFunction``); it runs in ``executor``.
        executor: where batches run (a one-thread pool: the model is not shared between
            threads).
        max_batch: options per batch at most, ``>= 1``; a single job larger than this runs
            alone.
        max_wait_ms: how long a batch waits for more jobs after its first, ``>= 0``;
            ``0`` runs every job on its own (no batching).
        queue_size: jobs that may wait at once, ``>= 1``.
        on_batch: called with each batch's option count (metrics).

    Raises:
        ValueError: a setting out of range, naming it.
    """

    def __init__(
        self,
        run: BatchFunction,
        executor: Executor,
        *,
        max_batch: int,
        max_wait_ms: float,
        queue_size: int,
        on_batch: Callable[[int], None] | None = None,
    ) -> None:
        if max_batch < 1:
            raise ValueError(f"max_batch must be >= 1, got {max_batch}")
        if not max_wait_ms >= 0:
            raise ValueError(f"max_wait_ms must be >= 0, got {max_wait_ms}")
        if queue_size < 1:
            raise ValueError(f"queue_size must be >= 1, got {queue_size}")
        self.run, self.executor = run, executor
        self.max_batch, self.max_wait = max_batch, max_wait_ms / 1e3
        self.queue_size = queue_size
        self.on_batch = on_batch
        self.stats = BatchStats()
        self._jobs: deque[Job] = deque()
        self._arrived = asyncio.Event()
        self._stopping = False
        self._worker: asyncio.Task | None = None

    @property
    def depth(self) -> int:
        """Jobs waiting for a batch."""
        return len(self._jobs)

    def start(self) -> None:
        """Starts the worker task on the running event loop."""
        if self._worker is None:
            self._worker = asyncio.get_running_loop().create_task(self._work())

    async def stop(self) -> None:
        """Answers every queued job, then ends the worker."""
        self._stopping = True
        self._arrived.set()
        if self._worker is not None:
            await self._worker
            self._worker = None

    def submit(self, X: np.ndarray, extra: np.ndarray | None, timeout_s: float) -> Job:
        """Queues a job; its ``future`` gets the job's rows of the batch's answer.

        Raises:
            QueueFull: ``queue_size`` jobs are already waiting, or the batcher is stopping.
        """
        if self._stopping or len(self._jobs) >= self.queue_size:
            raise QueueFull(f"{len(self._jobs)} requests are waiting")
        loop = asyncio.get_running_loop()
        job = Job(X, extra, loop.time() + timeout_s, loop.create_future())
        self._jobs.append(job)
        self._arrived.set()
        return job

    def _live(self, job: Job, now: float) -> bool:
        """Whether a job still wants its answer; settles the ones that do not."""
        if job.future.done():  # cancelled: its client went away
            self.stats.cancelled += 1
            return False
        if now > job.deadline:
            job.future.set_exception(DeadlineExceeded("the deadline passed in the queue"))
            self.stats.expired += 1
            return False
        return True

    def _take(self) -> list[Job]:
        """Removes the next batch from the queue: live jobs up to ``max_batch`` options."""
        loop_now = asyncio.get_running_loop().time()
        batch, options = [], 0
        while self._jobs:
            job = self._jobs[0]
            if not self._live(job, loop_now):
                self._jobs.popleft()
                continue
            if batch and (options + job.size > self.max_batch or self.max_wait == 0):
                break
            batch.append(self._jobs.popleft())
            options += job.size
        return batch

    async def _gather(self) -> None:
        """Waits until a batch is full or the window since the first live job has passed."""
        loop = asyncio.get_running_loop()
        end = loop.time() + self.max_wait
        while not self._stopping:
            options = sum(j.size for j in self._jobs if not j.future.done())
            remaining = end - loop.time()
            if options >= self.max_batch or remaining <= 0 or self.max_wait == 0:
                return
            self._arrived.clear()
            try:
                await asyncio.wait_for(self._arrived.wait(), remaining)
            except TimeoutError:
                return

    async def _work(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            if not self._jobs:
                if self._stopping:
                    return
                self._arrived.clear()
                await self._arrived.wait()
                continue
            await self._gather()
            batch = self._take()
            if not batch:
                continue
            X = np.concatenate([j.X for j in batch])
            extras = [j.extra for j in batch]
            extra = None if extras[0] is None else np.concatenate(extras)
            self.stats.batches += 1
            self.stats.options += len(X)
            if self.on_batch is not None:
                self.on_batch(len(X))
            try:
                answer = await loop.run_in_executor(self.executor, self.run, X, extra)
            except Exception as err:  # the batch's jobs fail; the others go on
                self.stats.failed += len(batch)
                for job in batch:
                    if not job.future.done():
                        job.future.set_exception(err)
                continue
            start = 0
            for job in batch:
                rows = slice(start, start + job.size)
                start += job.size
                if job.future.done():
                    continue
                if isinstance(answer, np.ndarray):
                    job.future.set_result(answer[rows])
                else:
                    job.future.set_result([part[rows] for part in answer])
