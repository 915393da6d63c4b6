"""The model-based test of the whole ledger (issue 12): a hypothesis state machine whose rules are
what happens in production drives the real loader (moto, PostgreSQL, the Redshift stand-in, the
fake Data API) and checks it against a reference model after every step and at the end
(ledger_machine.py, ledger_model.py, ledger_checks.py; docs/reliability.md).

Sizes: `LOADER_MODEL_EXAMPLES` examples of `LOADER_MODEL_STEPS` steps (defaults below, times
`LOADER_TEST_SCALE`). The larger run documented in docs/reliability.md:

    LOADER_MODEL_EXAMPLES=100 LOADER_MODEL_STEPS=40 \\
        .venv/bin/pytest tests/reliability/test_ledger_model.py
"""

from __future__ import annotations

import itertools
import os

import pytest
from e2e.stack import Stack
from hypothesis import HealthCheck, Phase, settings
from hypothesis.stateful import run_state_machine_as_test
from reliability.ledger_machine import Options, machine
from reliability.report import Report, scaled

from loader.adapters import batch_store

EXAMPLES = int(os.environ.get("LOADER_MODEL_EXAMPLES", scaled(10)))
STEPS = int(os.environ.get("LOADER_MODEL_STEPS", scaled(30)))


class Counting:
    """Batch ids end in a counter instead of random hex: hypothesis replays an example and must
    get the same batches, in the same order, to shrink it."""

    def __init__(self) -> None:
        self._next = itertools.count()

    def token_hex(self, nbytes: int) -> str:
        return f"{next(self._next):0{2 * nbytes}x}"


@pytest.mark.timeout(max(300, EXAMPLES * STEPS * 2))
def test_the_ledger_keeps_every_promise_whatever_happens(
    stack: Stack, report: Report, monkeypatch: pytest.MonkeyPatch, request: pytest.FixtureRequest
) -> None:
    # A broken build (--broken) only has to be seen failing: no shrinking, and its failures
    # are not saved to replay against the real build.
    broken = any(request.config.getoption("--broken"))
    monkeypatch.setattr(batch_store, "secrets", Counting())
    stack.env.session.client("s3").create_bucket(Bucket="data")
    stack.env.session.client("s3").put_bucket_versioning(
        Bucket="data", VersioningConfiguration={"Status": "Enabled"}
    )
    run_state_machine_as_test(
        machine(stack, Options.from_env(), report),
        settings=settings(
            max_examples=EXAMPLES,
            stateful_step_count=STEPS,
            deadline=None,
            suppress_health_check=list(HealthCheck),
            database=None if broken else settings.default.database,
            phases=[Phase.generate] if broken else settings.default.phases,
        ),
    )
