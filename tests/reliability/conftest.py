"""Reliability suite: crash injection, concurrency, faults, hostile input, secrets.

Options and environment:
- `LOADER_TEST_SCALE` (default 1): multiplies files, workers' work and hypothesis examples;
  e.g. `LOADER_TEST_SCALE=10` for a long soak.
- `--broken=NAME[,NAME]`: run against a deliberately broken build (see breaks.py) to see the
  invariant tests fail.
- `LOADER_RELIABILITY_REPORT=path.json`: write the per-scenario counts (files, faults, lost,
  duplicated, stuck) of this run; they are printed at the end of the run in any case.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

# The e2e layer's databases and stack (embedded PostgreSQL, Redshift stand-in, Data API).
from e2e.conftest import data_api, postgres, proxy, stack  # noqa: F401
from reliability import breaks
from reliability.report import Report, scale

# --- deliberately broken builds ------------------------------------------------------------


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--broken",
        action="append",
        default=[],
        help=f"patch in a known defect ({', '.join(sorted(breaks.BREAKS))}); tests should fail",
    )


def broken_names(config: pytest.Config) -> list[str]:
    names = [n for value in config.getoption("--broken") for n in value.split(",") if n]
    for name in names:
        if name not in breaks.BREAKS:
            raise pytest.UsageError(f"--broken={name}: known breaks are {sorted(breaks.BREAKS)}")
    return names


@pytest.fixture(autouse=True)
def _broken_build(
    request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch
) -> Iterator[list[str]]:
    names = broken_names(request.config)
    if names:
        breaks.apply(names, monkeypatch.setattr)
        monkeypatch.setenv(breaks.ENV, ",".join(names))  # worker processes
    yield names


# --- the counts the documentation quotes ----------------------------------------------------


_REPORT = Report()


@pytest.fixture(scope="session")
def report() -> Report:
    return _REPORT


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if not _REPORT.rows:
        return
    terminalreporter.section("reliability counts")
    names = broken_names(terminalreporter.config)
    terminalreporter.write_line(
        f"scale={scale()} broken={','.join(names) or 'none'} "
        "(files = file versions sent; faults = crashes, kills or injected errors)"
    )
    for line in _REPORT.table():
        terminalreporter.write_line(line)
    if _REPORT.paths:
        terminalreporter.write_line("paths taken by the model-based ledger test:")
        for path, count in sorted(_REPORT.paths.items()):
            terminalreporter.write_line(f"  {count:>6}  {path}")
    path = os.environ.get("LOADER_RELIABILITY_REPORT")
    if path:
        data = {"scale": scale(), "broken": names, "rows": _REPORT.dump()}
        Path(path).write_text(json.dumps(data, indent=2))


def pytest_sessionfinish(session: pytest.Session) -> None:
    """In an xdist worker: hand this process's counts to the controller."""
    output = getattr(session.config, "workeroutput", None)
    if output is not None:
        output["reliability_rows"] = _REPORT.dump()


@pytest.hookimpl(optionalhook=True)
def pytest_testnodedown(node: Any, error: Any) -> None:
    """In the xdist controller: add a finished worker's counts."""
    rows = getattr(node, "workeroutput", {}).get("reliability_rows")
    if rows:
        _REPORT.merge(rows)


# --- crash points: every call of a recorded full run ------------------------------------------


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "crash_point" not in metafunc.fixturenames:
        return
    recorder = getattr(metafunc.module, "record_calls", None)
    assert recorder is not None, "a module parametrized by crash_point defines record_calls()"
    from reliability.harness import crash_points

    with pytest.MonkeyPatch.context() as patch:
        breaks.apply(broken_names(metafunc.config), patch.setattr)
        calls = recorder()
    points = crash_points(calls, both_sides=scale() >= 2)
    select = getattr(metafunc.module, "select_points", None)
    points = select(points) if select is not None else points
    metafunc.parametrize("crash_point", points, ids=[p.id for p in points])
