"""Loader worker processes against a moto server, driven like Lambda containers by SQS.

Each worker has its own pipe (a SIGKILLed worker cannot wedge a shared queue). The dispatcher
hands out deliveries; a delivery the worker acknowledged is done, one it was handling when it
died is delivered again (SQS's visibility timeout), and messages it reported failed are
delivered again too (`batchItemFailures`). Workers use the real clock; recovery afterwards runs
in the test process with a clock moved past the leases.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import os
import random
import signal
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from multiprocessing.connection import Connection, wait
from typing import Any

Delivery = dict[str, Any]  # an SQS event


def work(conn: Connection, environ: dict[str, str]) -> None:
    """The worker's main loop: one LoaderService, deliveries in, acknowledgements out."""
    os.environ.update(environ)
    import boto3
    from reliability import breaks
    from reliability.destinations import FakeTarget

    from loader.deps import Deps
    from loader.events import parse_event
    from loader.notify import build_notifier
    from loader.service import LoaderService
    from loader.settings import Settings

    breaks.apply(breaks.from_env())
    deps = Deps(Settings.from_env())
    service = LoaderService(
        deps, loader=FakeTarget(boto3.client("s3")), notifier=build_notifier(deps)
    )
    conn.send(("ready",))
    while True:
        task = conn.recv()
        if task is None:
            return
        index, event = task
        result = service.handle(parse_event(event))
        conn.send(("done", index, result.failed_message_ids))


def preload() -> None:
    """Import what workers need once, in the fork server (workers then start in milliseconds)."""
    multiprocessing.set_forkserver_preload(
        [
            "boto3",
            "botocore.session",
            "pydantic",
            "loader.service",
            "loader.deps",
            "loader.adapters.batch_store",
            "loader.notify.publisher",
            "reliability.workers",
            "reliability.destinations",
        ]
    )


@dataclass
class _Worker:
    process: Any
    conn: Connection
    task: tuple[int, Delivery] | None = None
    ready: bool = False
    started_task_at: float = 0.0


@dataclass
class Dispatcher:
    environ: dict[str, str]
    workers: int = 4
    kills: int = 0
    """SIGKILL this many workers, each at a random moment while it handles a delivery."""
    seed: int = 0
    between: Callable[[int], None] = lambda done: None
    """Called after each acknowledged delivery with the count so far (configuration changes)."""
    killed: int = 0
    redelivered: int = 0
    failed_messages: int = 0
    _pool: list[_Worker] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._ctx = multiprocessing.get_context("forkserver")
        self._rng = random.Random(self.seed)

    def _start(self) -> _Worker:
        parent, child = self._ctx.Pipe()
        process = self._ctx.Process(target=work, args=(child, self.environ), daemon=True)
        process.start()
        child.close()
        worker = _Worker(process, parent)
        self._pool.append(worker)
        return worker

    def run(self, deliveries: list[Delivery], timeout: float = 600) -> None:
        pending: deque[tuple[int, Delivery]] = deque(enumerate(deliveries))
        done = 0
        kill_at = self._next_kill()
        deadline = time.monotonic() + timeout
        if not self._pool:
            for _ in range(self.workers):
                self._start()
        while pending or any(w.task for w in self._pool):
            if time.monotonic() > deadline:
                raise TimeoutError(f"{len(pending)} deliveries left after {timeout}s")
            for worker in self._pool:
                if worker.ready and worker.task is None and pending:
                    worker.task = pending.popleft()
                    worker.started_task_at = time.monotonic()
                    worker.conn.send(worker.task)
            # Kills come at random moments, but all of them come: on a fast machine the stream
            # could otherwise end first. The last deliveries are then interrupted in turn.
            late = len(pending) < self.kills - self.killed
            if kill_at is not None and (time.monotonic() >= kill_at or late):
                busy = [w for w in self._pool if w.task is not None]
                if busy:
                    self._kill(self._rng.choice(busy), pending)
                    kill_at = self._next_kill()
            for conn in wait([w.conn for w in self._pool], timeout=0.02):
                worker = next(w for w in self._pool if w.conn is conn)
                try:
                    message = conn.recv()
                except EOFError:  # died on its own: same as a kill
                    self._kill(worker, pending)
                    continue
                if message[0] == "ready":
                    worker.ready = True
                    continue
                _, index, failed = message
                assert worker.task is not None and worker.task[0] == index
                event = worker.task[1]
                worker.task = None
                done += 1
                if failed:  # SQS delivers the failed messages again
                    self.failed_messages += len(failed)
                    again = [r for r in event["Records"] if r["messageId"] in failed]
                    pending.append((index, {"Records": again}))
                self.between(done)

    def _next_kill(self) -> float | None:
        if self.killed >= self.kills:
            return None
        return time.monotonic() + self._rng.uniform(0.3, 1.5)

    def _kill(self, worker: _Worker, pending: deque[tuple[int, Delivery]]) -> None:
        """SIGKILL (no cleanup, like a Lambda timeout), redeliver its delivery, replace it."""
        if worker.process.is_alive():
            os.kill(worker.process.pid, signal.SIGKILL)
        worker.process.join(5)
        worker.conn.close()
        self._pool.remove(worker)
        self.killed += 1
        if worker.task is not None:
            self.redelivered += 1
            pending.append(worker.task)
        self._start()

    def stop(self) -> None:
        for worker in self._pool:
            with contextlib.suppress(BrokenPipeError, OSError):
                worker.conn.send(None)
        for worker in self._pool:
            worker.process.join(5)
            if worker.process.is_alive():
                worker.process.kill()
                worker.process.join(5)
            worker.conn.close()
        self._pool.clear()
