"""A PostgreSQL wire-protocol proxy that makes PostgreSQL answer Redshift's `COPY FROM 's3://'`.

Every message passes through byte for byte, except simple-query ('Q') messages holding a
`COPY ... FROM 's3://...'`: those are executed by `intercept.run_s3_copy` on the client's own
server connection (same session, same transaction). The asyncio loop runs in a background
thread; S3 reads and history writes run in a thread pool so the loop never blocks.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from enum import StrEnum
from types import TracebackType
from typing import TYPE_CHECKING, Any

from psycopg2.extensions import make_dsn, parse_dsn

from redshift_standin import wire
from redshift_standin.copy_parser import is_s3_copy
from redshift_standin.ddl import rewrite_ddl
from redshift_standin.errors import CopySyntaxError, StandInError
from redshift_standin.history import LoadHistory
from redshift_standin.intercept import CopyContext, backend_pid, fail_via_server, run_s3_copy
from redshift_standin.sql_tokens import split_statements, tokenize

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

log = logging.getLogger(__name__)
_FLUSH_AT = 1 << 16
_TERMINATE = b"X\x00\x00\x00\x04"
_MIXED_COPY = StandInError(
    "the Redshift stand-in runs COPY ... FROM 's3://...' only as the single statement of a query",
    sqlstate="0A000",
)


class QueryKind(StrEnum):
    PASS = "pass"
    S3_COPY = "s3 copy"
    MIXED = "s3 copy among other statements"


def classify(sql: str) -> QueryKind:
    """What the proxy does with one simple-query message."""
    lowered = sql.lower()
    if "copy" not in lowered or "s3://" not in lowered:
        return QueryKind.PASS  # fast path for nearly every query
    try:
        statements = split_statements(tokenize(sql))
    except CopySyntaxError:
        return QueryKind.PASS  # let PostgreSQL report it
    if not any(is_s3_copy(statement) for statement in statements):
        return QueryKind.PASS
    return QueryKind.S3_COPY if len(statements) == 1 else QueryKind.MIXED


class _Upstream:
    """Where the real PostgreSQL listens, from a libpq DSN (unix socket dir or TCP host)."""

    def __init__(self, dsn: str) -> None:
        parts = parse_dsn(dsn)
        self.host = parts.get("host") or "/var/run/postgresql"
        self.port = int(parts.get("port") or 5432)
        self.dbname = parts.get("dbname") or parts.get("user") or "postgres"

    async def connect(self) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        if self.host.startswith("/"):
            return await asyncio.open_unix_connection(f"{self.host}/.s.PGSQL.{self.port}")
        return await asyncio.open_connection(self.host, self.port)


class _Session:
    """One client connection and its server connection."""

    def __init__(
        self, proxy: _ProxyCore, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        self.proxy = proxy
        self.client_reader, self.client_writer = reader, writer
        self.server_reader: asyncio.StreamReader | None = None
        self.server_writer: asyncio.StreamWriter | None = None
        self.dbname = proxy.upstream.dbname
        self.backend_pid = 0
        self.txn_status = b"I"
        self._pending = 1  # the ReadyForQuery that ends authentication
        self._idle = asyncio.Event()
        self._tap: asyncio.Queue[wire.Message | None] | None = None
        self._server_gone = False
        self._copied = False

    # -- ServerChannel, used by intercept.py ----------------------------------------------------
    async def send(self, *messages: wire.Message) -> None:
        assert self.server_writer is not None
        self.server_writer.write(b"".join(m.raw() for m in messages))
        await self.server_writer.drain()

    async def receive(self) -> wire.Message:
        assert self._tap is not None
        message = await self._tap.get()
        if message is None:
            raise ConnectionError("server connection closed")
        return message

    def poll(self) -> wire.Message | None:
        assert self._tap is not None
        try:
            message = self._tap.get_nowait()
        except asyncio.QueueEmpty:
            return None
        if message is None:
            raise ConnectionError("server connection closed")
        return message

    # -- lifecycle ------------------------------------------------------------------------------
    async def run(self) -> None:
        pump: asyncio.Task[None] | None = None
        try:
            startup = await self._startup()
            if startup is None:
                return
            self.server_reader, self.server_writer = await self.proxy.upstream.connect()
            self.server_writer.write(startup)
            pump = asyncio.create_task(self._server_to_client())
            await self._client_to_server()
        except (ConnectionError, asyncio.IncompleteReadError):
            pass  # either side hung up: the server aborts any open transaction
        except Exception:  # the session edge: log, drop this connection, keep serving others
            log.exception("standin.session.failed")
        finally:
            await self._close(pump)

    async def _close(self, pump: asyncio.Task[None] | None) -> None:
        if pump is not None:
            pump.cancel()
        self.hang_up()
        if self._copied and self.backend_pid:
            await self.proxy.run_blocking(
                self.proxy.history.forget_session, self.dbname, self.backend_pid
            )

    def hang_up(self) -> None:
        if self.server_writer is not None and not self.server_writer.is_closing():
            self.server_writer.write(_TERMINATE)  # a clean goodbye keeps the server log quiet
        for writer in (self.server_writer, self.client_writer):
            if writer is not None:
                writer.close()

    async def _startup(self) -> bytes | None:
        while True:
            code, packet = await wire.read_startup(self.client_reader)
            if code in (wire.SSL_REQUEST, wire.GSSENC_REQUEST):
                self.client_writer.write(b"N")  # no TLS locally: clients use sslmode=disable
                await self.client_writer.drain()
            elif code == wire.CANCEL_REQUEST:
                await self._forward_cancel(packet)
                return None
            elif code == wire.PROTOCOL_3:
                params = wire.startup_parameters(packet)
                self.dbname = params.get("database") or params.get("user") or self.dbname
                return packet
            else:
                raise ConnectionError(f"unsupported startup request code {code}")

    async def _forward_cancel(self, packet: bytes) -> None:
        _, writer = await self.proxy.upstream.connect()
        writer.write(packet)
        await writer.drain()
        writer.close()

    # -- pumps ----------------------------------------------------------------------------------
    async def _client_to_server(self) -> None:
        assert self.server_writer is not None
        while True:
            message = await wire.read_message(self.client_reader)
            if message.type == b"Q":
                sql = message.body[:-1].decode("utf-8", "replace")
                kind = classify(sql)
                if kind is not QueryKind.PASS:
                    await self._intercept(sql, kind)
                    continue
                rewritten = rewrite_ddl(sql)
                if rewritten is not None:
                    message = wire.query(rewritten)
            if message.type in (b"Q", b"S", b"F"):  # each of these ends in one ReadyForQuery
                self._pending += 1
                self._idle.clear()
            self.server_writer.write(message.raw())
            if message.type == b"X":
                return
            if (
                message.type != b"d"
                or self.server_writer.transport.get_write_buffer_size() > _FLUSH_AT
            ):
                await self.server_writer.drain()

    async def _server_to_client(self) -> None:
        assert self.server_reader is not None
        try:
            while True:
                message = await wire.read_message(self.server_reader)
                if message.type == b"K":
                    self.backend_pid = backend_pid(message.body)
                if message.type == b"Z":
                    self.txn_status = message.body
                if self._tap is not None and message.type not in (b"A", b"S"):
                    self._tap.put_nowait(message)
                    continue
                self.client_writer.write(message.raw())
                if message.type == b"Z":
                    self._pending -= 1
                    if self._pending <= 0:
                        self._idle.set()
                if (
                    message.type == b"Z"
                    or self.client_writer.transport.get_write_buffer_size() > _FLUSH_AT
                ):
                    await self.client_writer.drain()
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        finally:
            self._server_gone = True
            self._idle.set()  # wake an interception waiting for its turn: it will see the hang-up
            if self._tap is not None:
                self._tap.put_nowait(None)
            self.client_writer.close()

    async def _intercept(self, sql: str, kind: QueryKind) -> None:
        await self._idle.wait()  # earlier answers are all relayed; the server is ours now
        if self._server_gone:
            raise ConnectionError("server connection closed")
        self._tap = asyncio.Queue()
        try:
            if kind is QueryKind.MIXED:
                replies = await fail_via_server(self, _MIXED_COPY)
            else:
                self._copied = True
                replies = await run_s3_copy(self, sql, self.proxy.context)
        finally:
            self._tap = None
        self.client_writer.write(b"".join(m.raw() for m in replies))
        await self.client_writer.drain()


class _ProxyCore:
    """State shared by the sessions of one stand-in."""

    def __init__(self, postgres_dsn: str, s3_client_factory: Callable[[], S3Client]) -> None:
        self.upstream = _Upstream(postgres_dsn)
        self.history = LoadHistory(postgres_dsn)
        self.executor = ThreadPoolExecutor(max_workers=8, thread_name_prefix="standin-io")
        self._s3_factory = s3_client_factory
        self._s3: S3Client | None = None
        self._s3_lock = threading.Lock()
        self.context = CopyContext(history=self.history, s3=self.s3, run_blocking=self.run_blocking)

    def s3(self) -> S3Client:
        with self._s3_lock:
            if self._s3 is None:
                self._s3 = self._s3_factory()
            return self._s3

    def run_blocking(self, func: Callable[..., Any], *args: Any) -> asyncio.Future[Any]:
        """Run `func` in the I/O pool. A future, not a coroutine: it starts at once (prefetch)."""
        loop = asyncio.get_running_loop()
        return loop.run_in_executor(self.executor, functools.partial(func, *args))

    def close(self) -> None:
        self.executor.shutdown(wait=True, cancel_futures=True)
        self.history.close()


class StandIn:
    """The Redshift stand-in: a local endpoint that speaks PostgreSQL and understands S3 COPY.

    `postgres_dsn` points at the real PostgreSQL (superuser; also used for history writes).
    `s3_client_factory` builds the boto3 S3 client COPY reads with (e.g. one aimed at moto).
    """

    def __init__(
        self,
        postgres_dsn: str,
        s3_client_factory: Callable[[], S3Client],
        *,
        host: str = "127.0.0.1",
        port: int = 0,
    ) -> None:
        self.postgres_dsn = postgres_dsn
        self._factory = s3_client_factory
        self._bind = (host, port)
        self.address: tuple[str, int] | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._server: asyncio.base_events.Server | None = None
        self._core: _ProxyCore | None = None
        self._sessions: dict[asyncio.Task[None], _Session] = {}

    def start(self) -> tuple[str, int]:
        if self.address is not None:
            return self.address
        self._core = core = _ProxyCore(self.postgres_dsn, self._factory)
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(
            target=self._loop.run_forever, name="standin-proxy", daemon=True
        )
        self._thread.start()
        try:
            core.history.ensure_schema(core.upstream.dbname)  # fail now, not at the first COPY
            self.address = asyncio.run_coroutine_threadsafe(self._listen(), self._loop).result(10)
        except BaseException:
            self.stop()
            raise
        log.info("standin.started host=%s port=%s", *self.address)
        return self.address

    async def _listen(self) -> tuple[str, int]:
        self._server = await asyncio.start_server(self._accept, *self._bind)
        host, port = self._server.sockets[0].getsockname()[:2]
        return str(host), int(port)

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        assert self._core is not None
        task = asyncio.current_task()
        assert task is not None
        session = _Session(self._core, reader, writer)
        self._sessions[task] = session
        try:
            await session.run()
        except asyncio.CancelledError:
            pass  # stop() cancelled a session that did not end by itself
        finally:
            self._sessions.pop(task, None)

    def stop(self) -> None:
        if self._loop is None or self._thread is None:
            return
        with contextlib.suppress(TimeoutError):
            asyncio.run_coroutine_threadsafe(self._shutdown(), self._loop).result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)
        self._loop.close()
        if self._core is not None:
            self._core.close()
        self._loop = self._thread = self._core = None
        self.address = None

    async def _shutdown(self) -> None:
        if self._server is not None:
            self._server.close()
        for session in self._sessions.values():
            session.hang_up()  # both sides see EOF; sessions end on their own
        if self._sessions:
            await asyncio.wait(list(self._sessions), timeout=5)
        for task in list(self._sessions):
            task.cancel()

    def dsn(self, dbname: str | None = None, user: str | None = None) -> str:
        """libpq DSN for clients (psycopg2) to reach PostgreSQL through the stand-in."""
        if self.address is None:
            raise RuntimeError("the stand-in is not started")
        upstream = parse_dsn(self.postgres_dsn)
        extra = {"password": upstream["password"]} if upstream.get("password") else {}
        return make_dsn(
            host=self.address[0],
            port=self.address[1],
            sslmode="disable",
            dbname=dbname or upstream.get("dbname") or "postgres",
            user=user or upstream.get("user") or "postgres",
            **extra,
        )

    def __enter__(self) -> StandIn:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
