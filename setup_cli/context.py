"""The CLI's context object: AWS session, table names, output format, and the operations factory.

Tests put their own `Cli` on the Typer context (`CliRunner().invoke(app, args, obj=Cli(...))`)
with a moto session, a clock and a `service_factory` that injects a fake destination.
"""

from __future__ import annotations

import logging
import os
import socket
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from enum import StrEnum
from typing import TYPE_CHECKING, Annotated

import typer

from loader.tables import TableNames

if TYPE_CHECKING:
    import boto3

    from loader.admin import Operations
    from loader.deps import Deps
    from loader.settings import Settings


class Format(StrEnum):
    TABLE = "table"
    JSON = "json"


Output = Annotated[
    Format | None,
    typer.Option(
        "--output", "-o", help="table (for people) or json (for scripts).", show_default=False
    ),
]
Yes = Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation.")]


def default_operations(deps: Deps, clock: Callable[[], float]) -> Operations:
    """The loader the Lambda would use (real targets and notifications)."""
    from loader.admin import Operations
    from loader.loading import build_loader
    from loader.notify import build_notifier
    from loader.service import LoaderService, new_owner_id

    service = LoaderService(
        deps,
        loader=build_loader(deps),
        notifier=build_notifier(deps),
        clock=clock,
        owner=new_owner_id(f"loader-admin@{socket.gethostname()}"),
    )
    return Operations(service)


@dataclass
class Cli:
    profile: str | None = None
    region: str | None = None
    endpoint_url: str | None = None
    tables: TableNames | None = None
    output: Format = Format.TABLE
    session: boto3.Session | None = None
    settings: Settings | None = None
    """Loader settings (lease length, flush queue); default: from the environment."""
    clock: Callable[[], float] = time.time
    service_factory: Callable[[Deps], Operations] | None = None
    """Builds the operations (and so the loader) from the deps; tests inject a fake loader."""
    _deps: Deps | None = field(default=None, repr=False)
    _ops: Operations | None = field(default=None, repr=False)

    def table_names(self) -> TableNames:
        if self.tables is not None:
            return self.tables
        return self.settings.tables if self.settings else TableNames.from_env()

    def aws(self) -> boto3.Session:
        if self.session is None:
            from setup_cli.aws_session import session

            self.session = session(
                profile=self.profile,
                region=self.region,
                endpoint_url=self.endpoint_url,
                environ=os.environ,
            )
        return self.session

    def deps(self) -> Deps:
        if self._deps is None:
            from loader.deps import Deps
            from loader.settings import Settings

            settings = replace(self.settings or Settings.from_env(), tables=self.table_names())
            self._deps = Deps(settings, self.aws())
        return self._deps

    def ops(self) -> Operations:
        if self._ops is None:
            factory = self.service_factory
            deps = self.deps()
            self._ops = factory(deps) if factory else default_operations(deps, self.clock)
        return self._ops

    def fmt(self, override: Format | None) -> Format:
        return override or self.output


def cli(ctx: typer.Context) -> Cli:
    """The `Cli` of the running command (the root callback always sets one)."""
    root = ctx.find_root()
    if not isinstance(root.obj, Cli):
        root.obj = Cli()
    return root.obj


class _Stderr:
    """Whatever sys.stderr is at the moment of writing (test runners swap it)."""

    def write(self, text: str) -> int:
        return sys.stderr.write(text)

    def flush(self) -> None:
        sys.stderr.flush()


def quiet_loader_logs(verbose: bool) -> None:
    """The loader logs JSON lines for CloudWatch; on a terminal they go to stderr, errors only
    unless --verbose, so `--output json` stays parseable. Its metrics are off: an operator's
    command is not the loader's workload, and EMF lines would land in stdout."""
    from loader.log import logger

    os.environ["POWERTOOLS_METRICS_DISABLED"] = "true"

    handler = logger.registered_handler
    if isinstance(handler, logging.StreamHandler):
        handler.setStream(_Stderr())
    logger.setLevel(logging.INFO if verbose else logging.ERROR)
