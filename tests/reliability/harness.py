"""Crash and fault injection at the loader's external calls.

The loader talks to the outside world through one boto3 session (`Deps(settings, session)`) and,
for real targets, through one adapter per target kind. `Protocol` numbers those calls in the
order a run makes them:

- every AWS API call, through botocore's `before-call` / `after-call` events on the session
  (registration and seal transactions, manifest write, outcome writes, notifications, timers...);
- every target load, by wrapping the adapter the runner builds
  (`loader.loading.runner.make_adapter`).

Armed with a `CrashPoint`, it raises `SimulatedCrash` at the Nth call, either *before* the call is
sent (it never happened) or *after* it took effect (the worker died before it could use the
answer). `SimulatedCrash` is a BaseException, like the Lambda runtime killing the process: nothing
in the loader may catch it.

`Faults` answers chosen AWS calls with error responses instead of sending them (a `before-send`
handler returning an `AWSResponse`), for the first N matching calls: throttling, transaction
conflicts, 5xx, permission errors.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from botocore.awsrequest import AWSResponse

if TYPE_CHECKING:
    import boto3

When = Literal["before", "after"]


class SimulatedCrash(BaseException):
    """The worker dies here (timeout, out of memory, SIGKILL): nothing in the loader catches it."""


@dataclass(frozen=True)
class CrashPoint:
    index: int
    """Position of the call in a full run, from 0."""
    call: str
    """What the call was in the recorded run (`dynamodb.TransactWriteItems`, `target.redshift`)."""
    when: When

    @property
    def id(self) -> str:
        return f"{self.when}-{self.index:02d}-{self.call}"


@dataclass
class Protocol:
    """Numbers the loader's external calls; armed with a crash point, dies at it."""

    crash: CrashPoint | None = None
    calls: list[str] = field(default_factory=list)
    crashed: bool = False
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    # --- wiring ---------------------------------------------------------------------------

    def attach(self, session: boto3.Session) -> Protocol:
        """Count the session's calls (clients created after this see the handlers)."""
        session.events.register_first("before-call", self._before_call)
        session.events.register_last("after-call", self._after_call)
        return self

    def wrap_adapters(self, monkeypatch: Any) -> None:
        """Count target loads: each adapter the runner builds is wrapped."""
        from loader.loading import runner

        build = runner.make_adapter

        def counted(kind: str, deps: Any, credentials: Any) -> Any:
            return _CountedAdapter(build(kind, deps, credentials), kind, self)

        monkeypatch.setattr(runner, "make_adapter", counted)

    def disarm(self) -> None:
        self.crash = None

    # --- counting -------------------------------------------------------------------------

    def _next(self, name: str) -> int:
        with self._lock:
            self.calls.append(name)
            return len(self.calls) - 1

    def _maybe_crash(self, index: int, name: str, when: When) -> None:
        point = self.crash
        if point is None or point.index != index or point.when != when:
            return
        if point.call != name:
            raise AssertionError(
                f"the run diverged from the recorded one: call {index} is {name}, "
                f"the recording had {point.call}"
            )
        self.crash = None  # a worker dies once
        self.crashed = True
        raise SimulatedCrash(point.id)

    def _before_call(self, model: Any, context: dict[str, Any], **_: Any) -> None:
        name = f"{model.service_model.service_name}.{model.name}"
        index = self._next(name)
        context["reliability_call"] = (index, name)
        self._maybe_crash(index, name, "before")

    def _after_call(self, context: dict[str, Any], **_: Any) -> None:
        index, name = context.get("reliability_call", (None, None))
        if index is not None:
            self._maybe_crash(index, name, "after")

    @contextmanager
    def step(self, name: str) -> Iterator[None]:
        """A call that is not an AWS API call (a target's load)."""
        index = self._next(name)
        self._maybe_crash(index, name, "before")
        yield
        self._maybe_crash(index, name, "after")


class _CountedAdapter:
    def __init__(self, inner: Any, kind: str, protocol: Protocol) -> None:
        self._inner, self._kind, self._protocol = inner, kind, protocol

    def load(self, job: Any) -> Any:
        with self._protocol.step(f"target.{self._kind}"):
            return self._inner.load(job)


def crash_points(calls: list[str], *, both_sides: bool = False) -> list[CrashPoint]:
    """Every place between two calls of a recorded run: before the first call, and after each
    call took effect (which is also just before the next one). With `both_sides`, also just
    before each call: the same state outside, but the worker's in-memory caches (a warm
    container's) may differ from just after the previous call."""
    if not calls:
        return []
    points = [CrashPoint(0, calls[0], "before")]
    for index, call in enumerate(calls):
        if both_sides and index:
            points.append(CrashPoint(index, call, "before"))
        points.append(CrashPoint(index, call, "after"))
    return points


# --- faults: error responses instead of the real call ----------------------------------------


class _Body:
    def __init__(self, body: bytes) -> None:
        self._body = body

    def stream(self, **_: Any) -> Iterator[bytes]:
        yield self._body


@dataclass(frozen=True)
class ErrorResponse:
    status: int
    body: bytes
    content_type: str

    def response(self, url: str) -> AWSResponse:
        headers = {
            "Content-Type": self.content_type,
            "x-amzn-RequestId": "fault-injected",
            "x-amz-request-id": "fault-injected",
        }
        return AWSResponse(url, self.status, headers, _Body(self.body))


def dynamodb_error(code: str, message: str = "injected", status: int = 400, **extra: Any) -> Any:
    body = {"__type": f"com.amazonaws.dynamodb.v20120810#{code}", "message": message, **extra}
    return ErrorResponse(status, json.dumps(body).encode(), "application/x-amz-json-1.0")


def throttled() -> ErrorResponse:
    return dynamodb_error(
        "ProvisionedThroughputExceededException",
        "The level of configured provisioned throughput for the table was exceeded.",
    )


def transaction_conflict(items: int) -> ErrorResponse:
    """A cancelled transaction whose first item met a concurrent transaction."""
    reasons = [{"Code": "TransactionConflict", "Message": "Transaction is ongoing for the item"}]
    reasons += [{"Code": "None"}] * (items - 1)
    codes = ", ".join(r["Code"] for r in reasons)
    return dynamodb_error(
        "TransactionCanceledException",
        f"Transaction cancelled, please refer cancellation reasons for specific reasons [{codes}]",
        CancellationReasons=reasons,
    )


def s3_error(code: str = "InternalError", status: int = 500) -> ErrorResponse:
    body = f"<Error><Code>{code}</Code><Message>injected</Message></Error>"
    return ErrorResponse(status, body.encode(), "application/xml")


def query_error(code: str = "InternalFailure", status: int = 500) -> ErrorResponse:
    """SNS/SQS (query protocol) error."""
    kind = "Receiver" if status >= 500 else "Sender"
    body = (
        f"<ErrorResponse><Error><Type>{kind}</Type><Code>{code}</Code>"
        "<Message>injected</Message></Error><RequestId>fault</RequestId></ErrorResponse>"
    )
    return ErrorResponse(status, body.encode(), "text/xml")


@dataclass
class Fault:
    event: str
    """`before-send` event suffix: `dynamodb.TransactWriteItems`, `s3.PutObject`, `sns`..."""
    response: ErrorResponse | Callable[[Any], ErrorResponse]
    times: int
    """How many matching requests fail (each botocore retry is a request)."""
    when: Callable[[Any], bool] = lambda request: True
    injected: int = 0


@dataclass
class Faults:
    """Error responses for the first N matching requests of a session."""

    faults: list[Fault] = field(default_factory=list)

    def attach(self, session: boto3.Session) -> Faults:
        # First: in-process moto answers requests from its own before-send handler.
        session.events.register_first("before-send", self._before_send)
        return self

    def add(self, fault: Fault) -> Fault:
        self.faults.append(fault)
        return fault

    @property
    def injected(self) -> int:
        return sum(f.injected for f in self.faults)

    def _before_send(self, request: Any, event_name: str, **_: Any) -> AWSResponse | None:
        for fault in self.faults:
            if fault.injected >= fault.times or not _matches(event_name, fault.event):
                continue
            if not fault.when(request):
                continue
            fault.injected += 1
            response = fault.response
            answer = response(request) if callable(response) else response
            return answer.response(request.url)
        return None


def _matches(event_name: str, wanted: str) -> bool:
    # event_name: before-send.<service-id>.<Operation>
    suffix = event_name.removeprefix("before-send.")
    return suffix == wanted or suffix.startswith(wanted + ".")


@contextmanager
def fast_backoff(monkeypatch: Any) -> Iterator[list[float]]:
    """botocore's and the loader's (tenacity's) backoff sleeps last at most 5 ms here: the
    decisions (what is retried, how often, how long it asks to wait) are unchanged. Yields the
    sleeps that were asked for."""
    import time as real_time
    from types import SimpleNamespace

    import tenacity.nap
    from botocore import endpoint

    asked: list[float] = []

    def sleep(seconds: float) -> None:
        asked.append(seconds)
        real_time.sleep(min(seconds, 0.005))

    shim = SimpleNamespace(sleep=sleep, monotonic=real_time.monotonic, time=real_time.time)
    monkeypatch.setattr(endpoint, "time", shim)
    monkeypatch.setattr(tenacity.nap, "time", shim)
    yield asked


_DATA_LOADER: Any = None


def new_session() -> boto3.Session:
    """A fresh boto3 session (its own event hooks) that shares service models with the others:
    loading botocore's JSON models again for every scenario costs more than the scenario."""
    import boto3
    import botocore.session

    global _DATA_LOADER  # noqa: PLW0603 - one model cache per test process
    core = botocore.session.get_session()
    if _DATA_LOADER is None:
        _DATA_LOADER = core.get_component("data_loader")
    else:
        core.register_component("data_loader", _DATA_LOADER)
    return boto3.Session(botocore_session=core, region_name="us-east-1")
