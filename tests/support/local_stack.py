"""Helpers for the end-to-end tests that run local mode and the worker as real processes:
spawning with captured output, waiting for log events, the process tree, row counts."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any

import psutil
import psycopg2
import pytest

ROOT = Path(__file__).resolve().parents[2]
NO_LOADER = "no_loader_configured"
NO_LOADER_HINT = (
    "loading into targets (loader/loading: build_loader) has not landed: the loader logged "
    "'no_loader_configured' and batches stop at 'loading'"
)


def child_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    """This environment without anything that could reach a real AWS account."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "LOADER_"))}
    env.update(
        {
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_REGION": "us-east-1",
            "AWS_DEFAULT_REGION": "us-east-1",
            "PYTHONUNBUFFERED": "1",
        }
    )
    env.update(extra or {})
    return env


class Spawned:
    """A child process whose output lines are collected as they come."""

    def __init__(self, args: list[str], env: dict[str, str]) -> None:
        self.args = args
        self.process = subprocess.Popen(
            [sys.executable, *args],
            cwd=ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        self.lines: list[str] = []
        self.companions: list[psutil.Process] = []
        """Processes it started that are not its descendants (a daemonised postgres)."""
        self._changed = threading.Condition()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            with self._changed:
                self.lines.append(line.rstrip("\n"))
                self._changed.notify_all()

    @property
    def pid(self) -> int:
        return self.process.pid

    @property
    def output(self) -> str:
        return "\n".join(self.lines)

    def events(self) -> list[dict[str, Any]]:
        """The JSON log lines (Powertools: the event name is under "message")."""
        found = []
        for line in list(self.lines):
            if line.startswith("{"):
                with suppress(ValueError):
                    found.append(json.loads(line))
        return found

    def wait_for_event(self, name: str, timeout: float) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        with self._changed:
            while True:
                for event in self.events():
                    if event.get("message") == name:
                        return event
                    if event.get("message") == NO_LOADER and name != NO_LOADER:
                        pytest.fail(NO_LOADER_HINT)
                left = deadline - time.monotonic()
                if left <= 0 or self.process.poll() is not None:
                    pytest.fail(f"no {name!r} from {self.args} within {timeout}s:\n{self.output}")
                self._changed.wait(min(left, 0.5))

    def signal(self, signum: int) -> None:
        self.process.send_signal(signum)

    def wait(self, timeout: float) -> int:
        try:
            code = self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            pytest.fail(f"{self.args} did not stop within {timeout}s:\n{self.output}")
        self._reader.join(5)
        return code

    def kill(self) -> None:
        """Teardown after a failure: ask nicely (SIGINT), then kill the tree and companions,
        so nothing outlives a failed test."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
            with suppress(subprocess.TimeoutExpired):
                self.process.wait(30)
        leftovers = list(self.companions)
        with suppress(psutil.Error):
            leftovers += psutil.Process(self.pid).children(recursive=True)
        for p in leftovers:
            with suppress(psutil.Error):
                # SIGINT is a postmaster's fast shutdown; anything else is killed below.
                p.send_signal(signal.SIGINT if p.name() == "postgres" else signal.SIGKILL)
        psutil.wait_procs(leftovers, timeout=10)
        with suppress(ProcessLookupError):
            self.process.kill()
        self.process.wait(10)


@contextmanager
def spawned(args: list[str], env: dict[str, str]) -> Iterator[Spawned]:
    process = Spawned(args, env)
    try:
        yield process
    finally:
        if process.process.poll() is None:
            process.kill()


def wait_until(
    condition: Callable[[], Any], timeout: float, what: str, *, interval: float = 0.25
) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout}s waiting for {what}")
        time.sleep(interval)


# --- processes ----------------------------------------------------------------------------------


def process_tree(pid: int, postgres_pid: int | None = None) -> list[psutil.Process]:
    """A process, its descendants, and the postmaster with its children (pgserver's postgres
    is daemonised: it is not a descendant of the process that started it)."""
    roots = [psutil.Process(pid)]
    if postgres_pid is not None:
        roots.append(psutil.Process(postgres_pid))
    tree: dict[int, psutil.Process] = {}
    for root in roots:
        for p in [root, *root.children(recursive=True)]:
            tree[p.pid] = p
    return list(tree.values())


def still_running(processes: list[psutil.Process], timeout: float = 10) -> list[str]:
    """Those of `processes` alive after `timeout` (psutil compares start times, so a reused
    pid is not mistaken for the old process)."""
    _, alive = psutil.wait_procs(processes, timeout=timeout)
    return [f"{p.pid} {p.name()} {' '.join(p.cmdline()[:4])}" for p in alive if p.is_running()]


def interrupt(process: Spawned, timeout: float = 60) -> int:
    process.signal(signal.SIGINT)
    return process.wait(timeout)


# --- databases ----------------------------------------------------------------------------------


def rows(dsn: str, sql: str) -> list[tuple[Any, ...]]:
    conn = psycopg2.connect(dsn)
    try:
        with conn.cursor() as cur:
            cur.execute(sql)
            return list(cur.fetchall())
    finally:
        conn.close()


def ids_in(dsn: str, table: str, column: str) -> list[int]:
    return [int(r[0]) for r in rows(dsn, f"SELECT {column} FROM {table} ORDER BY 1")]


def log_events(path: Path) -> list[dict[str, Any]]:
    if not path.exists():
        return []
    found = []
    for line in path.read_text().splitlines():
        with suppress(ValueError):
            found.append(json.loads(line))
    return found


def fail_if_no_loader(log: Path) -> None:
    if any(e.get("message") == NO_LOADER for e in log_events(log)):
        pytest.fail(NO_LOADER_HINT)
