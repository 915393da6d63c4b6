"""Every AWS call the test suite makes, by principal, checked against that principal's policy.

A pytest plugin (registered by tests/conftest.py). Each botocore session gets a
`before-parameter-build` hook (and the fake Data API, which is not botocore, is wrapped), so
every call is recorded as the (action, resource) pairs IAM would check (support/iam_actions.py),
with the principal that would make it in a deployment, decided from the call stack (`principal`
below). Under xdist each worker writes its records to a file; the controller (or the only
process) reads them all at session end and checks them against the stack's own policies
(support/iam_check.py). Any call not granted fails the run: exit status 1 and a report.
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
import threading
from pathlib import Path
from typing import Any

import pytest

from support.iam_actions import needed

ROOT = Path(__file__).resolve().parents[2]
ACCOUNT = "123456789012"  # moto's default account

# --- who makes a call ----------------------------------------------------------------------------
# The nearest project frame on the stack decides, unless it is loader code shared by several
# principals, which then belongs to the nearest entry point further out.
FUNCTION, WORKER, OPERATOR, TEST_SETUP = "function", "worker", "operator", "test-setup"
PRINCIPALS = (FUNCTION, WORKER, OPERATOR)
"""The principals with a policy; test-setup calls (fixtures, the Redshift stand-in reading S3
with the cluster's role, moto provisioning, local-mode provisioning) are recorded, not checked."""

# Loader modules (or module:function) only an operator reaches: loader-admin's service layer,
# table management, configuration writes, bucket wiring. A test calling them directly stands in
# for loader-admin.
OPERATOR_CODE = (
    "loader/admin.py",
    "loader/tables.py",
    "loader/adapters/batch_operator.py",
    "loader/bucket_wiring.py",
    "loader/adapters/bucket_notifications.py",
    "loader/adapters/config_store.py:put",
    "loader/adapters/config_store.py:delete",
)
WORKER_CODE = ("setup_cli/worker/",)  # cli.py, loop.py, sqs.py, decisions.py
_LOCAL_PROVISIONING = "setup_cli/local/stack.py:provision"  # creates what the stack would
# `config test` loads into its own in-process moto (mock_aws, AWS_ENDPOINT_URL cleared): none of
# its calls can reach AWS, so no policy is asked for them (reading s3:// samples comes before).
_LOCAL_TRIAL = "setup_cli/trial.py:run_trial"
SETUP_CODE = ("setup_cli/local/", "redshift_standin/", "local_aws/", "tests/", "bench/")


_ROOT = f"{ROOT}/"
_RELATIVE: dict[str, str | None] = {}


def _where(frame: Any) -> str | None:
    path = frame.f_code.co_filename
    if path not in _RELATIVE:
        inside = path.startswith(_ROOT) and "/.venv/" not in path and path != __file__
        _RELATIVE[path] = path[len(_ROOT) :] if inside else None
    relative = _RELATIVE[path]
    return None if relative is None else f"{relative}:{frame.f_code.co_name}"


def _matches(where: str, prefixes: tuple[str, ...]) -> bool:
    return where.startswith(prefixes)


def principal(frame: Any) -> str:  # noqa: PLR0911 - one rule per return, in order
    """Nearest project frame first: setup/test code is test-setup; worker code is the worker;
    operator code or any other `setup_cli` frame is the operator; loader code is the function
    unless a worker or operator frame encloses it."""
    chain = [w for f in _frames(frame) if (w := _where(f))]
    if not chain:  # a pool thread (s3transfer, ...): whoever started the thread
        return getattr(threading.current_thread(), "_aws_principal", TEST_SETUP)
    if any(w.startswith((_LOCAL_PROVISIONING, _LOCAL_TRIAL)) for w in chain):
        return TEST_SETUP
    for index, where in enumerate(chain):
        if _matches(where, WORKER_CODE):
            return WORKER
        if _matches(where, OPERATOR_CODE) or (
            where.startswith("setup_cli/") and not _matches(where, SETUP_CODE)
        ):
            return OPERATOR
        if _matches(where, SETUP_CODE):
            return TEST_SETUP
        if where.startswith("loader/"):
            outer = chain[index + 1 :]
            if any(_matches(w, WORKER_CODE) for w in outer):
                return WORKER
            if any(
                _matches(w, OPERATOR_CODE)
                or (w.startswith("setup_cli/") and not _matches(w, SETUP_CODE))
                for w in outer
            ):
                return OPERATOR
            return FUNCTION
    return TEST_SETUP


def _frames(frame: Any) -> list[Any]:
    found = []
    while frame is not None:
        found.append(frame)
        frame = frame.f_back
    return found


# --- recording -----------------------------------------------------------------------------------
_PENDING = "aws_calls_pending"
_NOT_FOUND = {
    "404",
    "NoSuchBucket",
    "NoSuchKey",
    "NotFound",
    "NotFoundException",
    "ResourceNotFoundException",
    "AWS.SimpleQueueService.NonExistentQueue",
    "QueueDoesNotExist",
    "NoSuchEntity",
    "ClusterNotFound",
}


class Recorder:
    def __init__(self) -> None:
        # (principal, action, resource) -> "service.Operation in <test>" (first seen)
        self.calls: dict[tuple[str, str, str], str] = {}

    def record(
        self, service: str, operation: str, params: dict[str, Any], region: str, frame: Any = None
    ) -> None:
        who = principal(frame or sys._getframe(1))
        test = os.environ.get("PYTEST_CURRENT_TEST", "").split(" ")[0]
        for action, resource in needed(service, operation, params, region or "us-east-1", ACCOUNT):
            self.calls.setdefault((who, action, resource), f"{service}.{operation} in {test}")

    def on_parameter_build(self, params: Any, model: Any, context: Any, **_: Any) -> None:
        if context is not None:
            region = context.get("client_region") or "us-east-1"
            context[_PENDING] = (model.service_model.service_name, dict(params or {}), region)

    def on_after_call(self, parsed: Any, model: Any, context: Any, **_: Any) -> None:
        """Recorded once answered: a call on a resource that does not exist (a test of the
        error path) tells nothing about what a deployment needs."""
        pending = (context or {}).pop(_PENDING, None)
        if pending is None:
            return
        code = str(((parsed or {}).get("Error") or {}).get("Code", ""))
        if code in _NOT_FOUND:
            return
        service, params, region = pending
        self.record(service, model.name, params, region)

    def rows(self) -> list[dict[str, str]]:
        return [
            {"principal": p, "action": a, "resource": r, "example": e}
            for (p, a, r), e in sorted(self.calls.items())
        ]


RECORDER = Recorder()


def install(recorder: Recorder = RECORDER) -> None:
    """Hook every botocore session created from now on, and the fake Data API."""
    import botocore.session

    original = botocore.session.Session.__init__
    if getattr(original, "_records_aws_calls", False):
        return

    def init(self: Any, *args: Any, **kwargs: Any) -> None:
        original(self, *args, **kwargs)
        self.register("before-parameter-build", recorder.on_parameter_build)
        self.register("after-call", recorder.on_after_call)

    init._records_aws_calls = True  # type: ignore[attr-defined]
    botocore.session.Session.__init__ = init  # type: ignore[method-assign]

    # Threads started on someone's behalf (s3transfer's managed copy) call as their starter.
    start = threading.Thread.__init__

    def thread_init(self: Any, *args: Any, **kwargs: Any) -> None:
        start(self, *args, **kwargs)
        self._aws_principal = principal(sys._getframe(1))

    threading.Thread.__init__ = thread_init  # type: ignore[method-assign]

    # The fake Data API validates every call against botocore's model (`_validate`): record there.
    from redshift_standin.data_api import FakeRedshiftData

    validate = FakeRedshiftData._validate

    def validated(self: Any, operation: str, kwargs: dict[str, Any]) -> Any:
        # The caller of the fake (and of tests/iam's guard around it) makes the call.
        caller = sys._getframe(1)
        while caller is not None and (_where(caller) or "").startswith(_FAKE_DATA_API):
            caller = caller.f_back
        recorder.record("redshift-data", operation, dict(kwargs), "us-east-1", caller)
        return validate(self, operation, kwargs)

    FakeRedshiftData._validate = validated  # type: ignore[method-assign]


_FAKE_DATA_API = ("redshift_standin/data_api.py", "tests/iam/world.py:call")


# --- the plugin ----------------------------------------------------------------------------------
_DIR_KEY = "aws_calls_dir"


class Plugin:
    """Workers write their records; the controller (or a run without xdist) checks them all."""

    def __init__(self, config: pytest.Config) -> None:
        self.config = config
        self.report: list[str] = []
        worker_input = getattr(config, "workerinput", None)
        if worker_input is not None:
            self.directory = Path(worker_input[_DIR_KEY])
        else:
            self.directory = Path(tempfile.mkdtemp(prefix="aws-calls-"))

    def pytest_configure_node(self, node: Any) -> None:  # xdist: controller -> each worker
        node.workerinput[_DIR_KEY] = str(self.directory)

    @pytest.hookimpl(trylast=True)
    def pytest_sessionfinish(self, session: pytest.Session) -> None:
        worker_input = getattr(self.config, "workerinput", None)
        name = worker_input["workerid"] if worker_input else "main"
        (self.directory / f"{name}.json").write_text(json.dumps(RECORDER.rows()))
        if worker_input is not None:
            return
        rows = [r for f in sorted(self.directory.glob("*.json")) for r in json.loads(f.read_text())]
        from support.iam_check import not_granted

        missing = not_granted(rows)
        (self.directory / "not-granted.json").write_text(json.dumps(missing, indent=1))
        if missing:
            self.report = [
                f"{m['principal']}: {m['action']} on {m['resource']}  ({m['example']})"
                for m in missing
            ]
            session.exitstatus = pytest.ExitCode.TESTS_FAILED

    def pytest_terminal_summary(self, terminalreporter: Any) -> None:
        if self.report:
            terminalreporter.section("AWS calls not granted by the stack's policies", red=True)
            for line in self.report:
                terminalreporter.write_line(line)
            terminalreporter.write_line(
                f"{len(self.report)} not granted; every call: {self.directory}/*.json "
                "(support/aws_calls.py classifies, support/iam_check.py checks)"
            )


def register(config: pytest.Config) -> None:
    install()
    config.pluginmanager.register(Plugin(config), "aws-calls")
