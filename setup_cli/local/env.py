"""`loader-admin --local ...` and `loader-admin local env`: the operator's commands against the
running local stack (`make local`), found through its state file. Nothing reaches AWS: the
endpoint is moto on 127.0.0.1 and the credentials are the stack's fake ones."""

from __future__ import annotations

import os
import shlex
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

from loader.errors import LoaderError
from setup_cli.local.stack import (
    FAKE_CREDENTIALS,
    Resources,
    aws_environment,
    loader_environment,
    read_state,
)

if TYPE_CHECKING:
    from setup_cli.context import Cli

DEFAULT_DATA_DIR = Path(
    os.environ.get("LOADER_LOCAL_DIR") or Path(tempfile.gettempdir()) / "s3-redshift-loader-local"
)
"""Where `local up` keeps its state file unless told otherwise (`--data-dir`)."""

UNSET = ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN")
"""Variables that would send the exported credentials to a real account's profile."""


def running_stack(data_dir: Path) -> Resources:
    resources = read_state(data_dir)
    if resources is None:
        raise LoaderError(
            f"no local stack is running with data dir {data_dir} (start one with `make local` "
            "or `loader-admin local up`; --local-dir / LOADER_LOCAL_DIR if it uses another)"
        )
    return resources


def environment(r: Resources) -> dict[str, str]:
    """What a shell needs so that `aws` and `loader-admin` talk to the local stack."""
    return {**aws_environment(r.endpoint, r.region), **loader_environment(r)}


def export_lines(r: Resources) -> list[str]:
    """`eval "$(loader-admin local env)"` material (POSIX shells)."""
    lines = [f"unset {' '.join(UNSET)}"]
    lines += [f"export {k}={shlex.quote(v)}" for k, v in environment(r).items()]
    return lines


def attach(state: Cli, data_dir: Path) -> Resources:
    """Point this `loader-admin` run at the running local stack."""
    import botocore.session

    from loader.settings import Settings
    from loader.tables import TableNames
    from setup_cli.aws_session import EndpointSession

    r = running_stack(data_dir)
    state.session = EndpointSession(
        # AWS_PROFILE names a real account's profile: this session must not read it.
        botocore_session=botocore.session.Session(
            session_vars={"profile": (None, None, None, None)}
        ),
        endpoint_url=r.endpoint,
        region_name=r.region,
        aws_access_key_id=FAKE_CREDENTIALS["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=FAKE_CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
    )
    state.settings = Settings.from_env(loader_environment(r))
    state.tables = TableNames(**r.tables)
    return r
