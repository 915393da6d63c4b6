"""A cold start imports what registering a file needs, and the load-time modules only when a
batch is sealed (docs/performance.md §3). Checked in a fresh interpreter's `sys.modules`: a
test that fails when an import slips onto the registration path, not a timing."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
EVENTS = ROOT / "tests" / "events"

LOAD_TIME = (
    "loader.loading.",  # the runner, the targets, the SQL (the package itself is a stub)
    "loader.notify.",  # the outcome document and its channels
    "loader.copy_sql",
    "loader.schema",
    "loader.event_wire",  # the wire models: only for envelopes not in the shape AWS sends
    "psycopg2",
    "setup_cli",
)
"""Prefixes of modules that registering files must not import."""

# What the handler does with a first event before it registers anything: parse it, build the
# container's adapters and the invocation's service (clients are made, no call is sent).
REGISTRATION_PATH = """
import json, sys
from loader.deps import Deps
from loader.events import parse_event
from loader.runtime import build_service
from loader.settings import Settings

for name in sys.argv[1:]:
    with open(name) as sample:
        parse_event(json.load(sample))
d = Deps(Settings.from_env())
build_service(d, "request-1")
d.configs, d.batches, d.ledger, d.s3, d.timers
"""

FAKE_AWS = {
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_ACCESS_KEY_ID": "x",
    "AWS_SECRET_ACCESS_KEY": "x",
}


def _imported(code: str, *args: str) -> set[str]:
    code += "\nimport json, sys\nprint(json.dumps(sorted(sys.modules)))"
    done = subprocess.run(
        [sys.executable, "-c", code, *args],
        cwd=ROOT,
        env={**os.environ, **FAKE_AWS},
        capture_output=True,
        text=True,
        check=True,
    )
    return set(json.loads(done.stdout.splitlines()[-1]))


def test_importing_the_handler_imports_only_the_standard_library() -> None:
    baseline = _imported("pass")

    added = _imported("import loader.handler") - baseline

    assert {m for m in added if m.split(".")[0] not in sys.stdlib_module_names} == {
        "loader",
        "loader.handler",
    }


@pytest.mark.parametrize(
    "samples",
    [
        ["s3Event.json"],
        ["s3SqsEvent.json", "snsSqsEvent.json"],
        ["s3EventBridgeNotificationObjectCreatedEvent.json"],
    ],
)
def test_registering_files_does_not_import_the_load_time_modules(samples: list[str]) -> None:
    modules = _imported(REGISTRATION_PATH, *(str(EVENTS / name) for name in samples))

    assert "loader.registration" in modules
    assert sorted(m for m in modules if m.startswith(LOAD_TIME)) == []


def test_an_envelope_in_another_shape_takes_the_wire_models() -> None:
    """The check above can fail: the slow path does import them."""
    odd = {"Records": [{"eventSource": "aws:s3", "eventName": "ObjectCreated:Put", "s3": {}}]}
    code = (
        "from loader.events import parse_event\n"
        "from loader.errors import MalformedEventError\n"
        f"try:\n    parse_event({odd!r})\nexcept MalformedEventError:\n    pass"
    )

    assert "loader.event_wire" in _imported(code)
