"""A real PostgreSQL for the stand-in: embedded (pip `pgserver`) or an existing server.

Set `LOADER_TEST_POSTGRES_DSN` to use an existing server (nothing is started or stopped then).
Otherwise each `start_postgres()` runs initdb in a fresh temporary directory and removes it on
`stop()`. As root, pgserver runs PostgreSQL as a `pgserver` OS user it creates.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import shutil
import signal
import tempfile
import warnings
from pathlib import Path
from types import TracebackType
from typing import Any

import psycopg2
from psycopg2.extensions import make_dsn, parse_dsn

DSN_ENV = "LOADER_TEST_POSTGRES_DSN"
_TEMP_PREFIX = "standin-pg-"
log = logging.getLogger(__name__)

# Test-speed settings for a throwaway cluster: durability is irrelevant there.
_FAST_SETTINGS = {"fsync": "off", "synchronous_commit": "off", "full_page_writes": "off"}


class PostgresUnavailableError(RuntimeError):
    """No PostgreSQL could be started or reached."""


class EmbeddedPostgres:
    """A running PostgreSQL. `dsn` is a libpq key/value string for the superuser."""

    def __init__(self, dsn: str, *, server: Any = None) -> None:
        self.dsn = dsn
        self._server = server

    @property
    def owned(self) -> bool:
        """True when this object started the server (and `stop()` stops it)."""
        return self._server is not None

    def dsn_for(self, dbname: str) -> str:
        return make_dsn(self.dsn, dbname=dbname)

    def stop(self) -> None:
        if self._server is None:
            return
        server, self._server = self._server, None
        server.cleanup()

    def __enter__(self) -> EmbeddedPostgres:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


def start_postgres(data_dir: Path | None = None) -> EmbeddedPostgres:
    """Use `$LOADER_TEST_POSTGRES_DSN` if set, else start an embedded server.

    `data_dir=None` means a fresh temporary cluster, deleted by `stop()`; a given `data_dir`
    is kept (and reused if it already holds a cluster).
    """
    external = os.environ.get(DSN_ENV)
    if external:
        _check_reachable(external)
        log.info("postgres.external", extra={"dsn": _safe_dsn(external)})
        return EmbeddedPostgres(external)
    return _start_embedded(data_dir)


def _start_embedded(data_dir: Path | None) -> EmbeddedPostgres:
    try:
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message=".*XDG_RUNTIME_DIR.*")
            import pgserver
    except ImportError as exc:
        raise PostgresUnavailableError(
            "the embedded PostgreSQL needs the `pgserver` package (pip install pgserver), "
            f"or set {DSN_ENV} to a running server"
        ) from exc
    temporary = data_dir is None
    if data_dir is None:
        reap_orphans()
        data_dir = Path(tempfile.mkdtemp(prefix=_TEMP_PREFIX))
    pgdata = Path(data_dir)
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*XDG_RUNTIME_DIR.*")
        # "delete" also unregisters pgserver's atexit hook once the directory is gone.
        server = pgserver.get_server(pgdata, cleanup_mode="delete" if temporary else "stop")
    dsn = _uri_to_dsn(server.get_uri())
    if temporary:
        _apply_fast_settings(dsn)
    log.info("postgres.embedded.started", extra={"pgdata": str(pgdata)})
    return EmbeddedPostgres(dsn, server=server)


def reap_orphans() -> None:
    """Stop and delete temporary clusters whose owners died without `stop()`.

    A test run killed by a timeout leaves its postgres running; pgserver records the owning
    pids in `.handle_pids.json`, so a cluster none of whose owners is alive is an orphan.
    """
    import psutil  # a pgserver dependency

    for pgdata in Path(tempfile.gettempdir()).glob(f"{_TEMP_PREFIX}*"):
        try:
            owners = json.loads((pgdata / ".handle_pids.json").read_text())
            postmaster = int((pgdata / "postmaster.pid").read_text().split()[0])
        except (OSError, ValueError, IndexError):
            continue  # being created, already stopped, or not ours to judge
        if any(psutil.pid_exists(pid) for pid in owners):
            continue
        with contextlib.suppress(psutil.Error):
            process = psutil.Process(postmaster)
            if process.name() == "postgres":
                process.send_signal(signal.SIGINT)  # fast shutdown
                process.wait(5)
        shutil.rmtree(pgdata, ignore_errors=True)
        log.info("postgres.embedded.orphan_reaped", extra={"pgdata": str(pgdata)})


def _uri_to_dsn(uri: str) -> str:
    parts = {key: value for key, value in parse_dsn(uri).items() if value}
    parts.setdefault("user", "postgres")
    parts.setdefault("dbname", "postgres")
    return make_dsn(**parts)


def _apply_fast_settings(dsn: str) -> None:
    conn = psycopg2.connect(dsn)
    try:
        conn.autocommit = True
        with conn.cursor() as cur:
            for name, value in _FAST_SETTINGS.items():
                cur.execute(f"ALTER SYSTEM SET {name} = %s", (value,))
            cur.execute("SELECT pg_reload_conf()")
    finally:
        conn.close()


def _check_reachable(dsn: str) -> None:
    try:
        psycopg2.connect(dsn, connect_timeout=5).close()
    except psycopg2.OperationalError as exc:
        raise PostgresUnavailableError(
            f"{DSN_ENV} is set but the server is unreachable: {exc}"
        ) from exc


def _safe_dsn(dsn: str) -> str:
    parts = parse_dsn(dsn)
    parts.pop("password", None)
    return make_dsn(**parts)
