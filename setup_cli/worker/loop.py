"""The worker's loop: pollers hand received batches to the main thread, which runs the handler
one batch at a time, settles it (deletes what succeeded) and sweeps on a timer; a heartbeat keeps
in-flight messages invisible. The decisions are in `decisions.py`, SQS in `sqs.py`.

Threads: one poller per queue (each hands over one batch at a time and waits until it is done),
one heartbeat, and the thread that calls `run()` (the main thread in `loader-worker`).
"""

from __future__ import annotations

import queue
import signal
import threading
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from loader.errors import LoaderError
from loader.log import logger
from setup_cli.worker.decisions import (
    InFlight,
    Received,
    WorkerOptions,
    extensions,
    lambda_event,
    next_sweep_at,
    settle,
    sweep_due,
    wait_for_work,
)
from setup_cli.worker.sqs import SqsQueues

Invoke = Callable[[dict[str, Any], Any], Any]
SWEEP_EVENT = {"loader": "sweep"}
_LOOP_TICK = 0.5  # the main loop looks at the stop flag at least this often


@dataclass
class InvocationContext:
    """The bits of a Lambda context the runtime reads."""

    aws_request_id: str
    deadline: float  # wall clock
    function_name: str = "loader-worker"

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self.deadline - time.time()) * 1000))


@dataclass
class _Delivery:
    queue_url: str
    messages: list[Received]
    done: threading.Event = field(default_factory=threading.Event)


class _InFlightRegistry:
    """Messages the worker holds (received, not yet settled), for the heartbeat."""

    def __init__(self) -> None:
        # Reentrant: the SIGTERM handler (`Worker.stop`) may run while the main thread holds it.
        self._lock = threading.RLock()
        self._items: dict[str, InFlight] = {}

    def add(self, messages: Sequence[Received], visibility_timeout: int) -> None:
        with self._lock:
            for m in messages:
                self._items[m.receipt_handle] = InFlight(
                    m.queue_url, m.receipt_handle, m.received_at, m.received_at + visibility_timeout
                )

    def remove(self, messages: Sequence[Received]) -> None:
        with self._lock:
            for m in messages:
                self._items.pop(m.receipt_handle, None)

    def extended(self, receipt_handle: str, visible_until: float) -> None:
        with self._lock:
            if (item := self._items.get(receipt_handle)) is not None:
                self._items[receipt_handle] = InFlight(
                    item.queue_url, item.receipt_handle, item.received_at, visible_until
                )

    def snapshot(self) -> list[InFlight]:
        with self._lock:
            return list(self._items.values())

    def __len__(self) -> int:
        with self._lock:
            return len(self._items)


class Worker:
    def __init__(
        self,
        options: WorkerOptions,
        queues: SqsQueues,
        invoke: Invoke,
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.options = options
        self._queues = queues
        self._invoke = invoke
        self._clock = clock
        self._stopping = threading.Event()
        self._heartbeat_stop = threading.Event()
        self._handoff: queue.Queue[_Delivery] = queue.Queue()
        self._inflight = _InFlightRegistry()
        self._busy = False
        self._crashed: str | None = None

    # --- control -------------------------------------------------------------------------

    @property
    def stopping(self) -> bool:
        return self._stopping.is_set()

    def stop(self, reason: str = "requested") -> None:
        if not self._stopping.is_set():
            logger.info(
                "worker_stop_requested",
                reason=reason,
                mid_batch=self._busy,
                in_flight=len(self._inflight),
            )
        self._stopping.set()

    def install_signal_handlers(self) -> None:
        """First SIGTERM/SIGINT: graceful stop. A second one: the default action (exit now)."""

        def on_signal(signum: int, _frame: Any) -> None:
            signal.signal(signal.SIGTERM, signal.SIG_DFL)
            signal.signal(signal.SIGINT, signal.default_int_handler)
            self.stop(signal.Signals(signum).name)

        signal.signal(signal.SIGTERM, on_signal)
        signal.signal(signal.SIGINT, on_signal)

    # --- the main loop -------------------------------------------------------------------

    def run(self) -> int:
        o = self.options
        logger.info(
            "worker_started",
            queues=list(o.queue_urls),
            batch_size=o.batch_size,
            wait_seconds=o.wait_seconds,
            visibility_timeout=o.visibility_timeout,
            sweep_interval=o.sweep_interval,
        )
        pollers = [
            threading.Thread(
                target=self._guarded, args=(self._poll, url), name=f"poll-{i}", daemon=True
            )
            for i, url in enumerate(o.queue_urls)
        ]
        heartbeat = threading.Thread(
            target=self._guarded, args=(self._heartbeat,), name="heartbeat", daemon=True
        )
        heartbeat.start()
        for thread in pollers:
            thread.start()
        next_sweep = self._clock() if o.sweep_interval > 0 else None  # sweep at once: recover
        try:
            while not self._stopping.is_set():
                now = self._clock()
                if sweep_due(now, next_sweep):
                    self._sweep()
                    next_sweep = next_sweep_at(self._clock(), o.sweep_interval)
                    continue
                try:
                    delivery = self._handoff.get(
                        timeout=wait_for_work(now, next_sweep, longest=_LOOP_TICK)
                    )
                except queue.Empty:
                    continue
                self._process(delivery)
        finally:
            self._shutdown(pollers, heartbeat)
        return 1 if self._crashed else 0

    def _guarded(self, body: Callable[..., None], *args: Any) -> None:
        """A helper thread that dies stops the worker, which exits 1 (to be restarted): a
        worker without its poller or heartbeat must not linger."""
        try:
            body(*args)
        except Exception as exc:  # a thread's edge: logged once, then the worker stops
            self._crashed = threading.current_thread().name
            logger.exception("worker_thread_crashed", thread=self._crashed, error=str(exc))
            self.stop(f"{self._crashed} crashed")

    def _process(self, delivery: _Delivery) -> None:
        self._busy = True
        started = self._clock()
        request_id = str(uuid.uuid4())
        messages = delivery.messages
        logger.info(
            "worker_batch_started",
            request_id=request_id,
            queue=delivery.queue_url,
            messages=len(messages),
        )
        response, raised = None, False
        try:
            event = lambda_event(
                messages, queue_arn=self._queues.arn(delivery.queue_url), region=self._queues.region
            )
            response = self._invoke(event, self._context(request_id))
        except Exception as exc:  # the handler edge: logged once, batch retried
            raised = True
            logger.exception("worker_batch_raised", request_id=request_id, error=str(exc))
        outcome = settle(messages, response, raised=raised)
        self._inflight.remove(messages)  # stop extending: retried ones reappear on time
        refused = self._delete(outcome.delete)
        logger.info(
            "worker_batch_done",
            request_id=request_id,
            queue=delivery.queue_url,
            deleted=len(outcome.delete) - len(refused),
            retried=len(outcome.retry),
            reason=outcome.reason,
            stopping=self.stopping,
            duration_ms=round((self._clock() - started) * 1000),
        )
        self._busy = False
        delivery.done.set()

    def _delete(self, messages: Sequence[Received]) -> list[Received]:
        if not messages:
            return []
        try:
            refused = self._queues.delete(messages)
        except LoaderError as exc:
            # They come back after their visibility timeout; the handler is idempotent.
            logger.error("worker_delete_failed", messages=len(messages), error=str(exc))
            return list(messages)
        if refused:
            logger.warning("worker_delete_refused", messages=[m.message_id for m in refused])
        return refused

    def _sweep(self) -> None:
        try:
            self._invoke(dict(SWEEP_EVENT), self._context(f"sweep-{uuid.uuid4()}"))
        except Exception as exc:  # the handler edge; the next sweep tries again
            logger.exception("worker_sweep_failed", error=str(exc))

    def _context(self, request_id: str) -> InvocationContext:
        return InvocationContext(request_id, time.time() + self.options.batch_timeout)

    # --- pollers and heartbeat -----------------------------------------------------------

    def _poll(self, queue_url: str) -> None:
        o = self.options
        failures = 0
        while not self._stopping.is_set():
            try:
                messages = self._queues.receive(
                    queue_url,
                    max_messages=o.batch_size,
                    wait_seconds=o.wait_seconds,
                    visibility_timeout=o.visibility_timeout,
                )
                failures = 0
            except LoaderError as exc:
                failures += 1
                logger.warning("worker_receive_failed", queue=queue_url, error=str(exc))
                self._stopping.wait(min(30.0, 0.5 * 2**failures))
                continue
            if not messages:
                if o.wait_seconds == 0:
                    self._stopping.wait(o.idle_sleep)
                continue
            if self._stopping.is_set():
                self._release(messages)
                return
            self._inflight.add(messages, o.visibility_timeout)
            delivery = _Delivery(queue_url, messages)
            self._handoff.put(delivery)
            while not (delivery.done.wait(_LOOP_TICK) or self._stopping.is_set()):
                pass

    def _heartbeat(self) -> None:
        o = self.options
        while not self._heartbeat_stop.wait(o.heartbeat_tick):
            now = self._clock()
            due = extensions(
                self._inflight.snapshot(),
                now,
                visibility_timeout=o.visibility_timeout,
                tick=o.heartbeat_tick,
            )
            for queue_url in {e.message.queue_url for e in due}:
                try:
                    accepted = self._queues.extend(
                        queue_url, [e for e in due if e.message.queue_url == queue_url]
                    )
                except LoaderError as exc:
                    logger.warning("worker_heartbeat_failed", queue=queue_url, error=str(exc))
                    continue
                for e in accepted:
                    self._inflight.extended(e.message.receipt_handle, now + e.timeout)
                if accepted:
                    logger.debug("worker_visibility_extended", messages=len(accepted))

    def _release(self, messages: Sequence[Received]) -> None:
        self._inflight.remove(messages)
        try:
            self._queues.release(messages)
        except LoaderError as exc:
            logger.warning("worker_release_failed", messages=len(messages), error=str(exc))

    def _shutdown(self, pollers: list[threading.Thread], heartbeat: threading.Thread) -> None:
        self._stopping.set()
        for thread in pollers:
            thread.join(self.options.wait_seconds + 10)
        undone: list[Received] = []
        while True:
            try:
                undone.extend(self._handoff.get_nowait().messages)
            except queue.Empty:
                break
        if undone:
            self._release(undone)
        self._heartbeat_stop.set()
        heartbeat.join(5)
        logger.info("worker_stopped", released=len(undone))
