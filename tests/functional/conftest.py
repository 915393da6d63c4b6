"""Fixtures shared by the CLI and operations tests: a fake destination and the CLI runner."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from typer.testing import CliRunner, Result

from loader.admin import Operations
from loader.service import LoaderService
from setup_cli.context import Cli
from setup_cli.main import app
from support.aws import Env
from support.fakes import RecordingLoader


@pytest.fixture
def loader(env: Env) -> RecordingLoader:
    return RecordingLoader(env.session)


@pytest.fixture
def run(env: Env, loader: RecordingLoader) -> Callable[..., Result]:
    """`run("batch", "list")`: loader-admin against moto, loading into the fake destination."""

    def invoke(*args: str) -> Result:
        obj = Cli(
            session=env.session,
            settings=env.settings,
            clock=env.clock,
            service_factory=lambda deps: Operations(
                LoaderService(deps, loader=loader, clock=env.clock)
            ),
        )
        return CliRunner().invoke(app, list(args), obj=obj)

    return invoke
