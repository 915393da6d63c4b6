"""Run one intercepted `COPY ... FROM 's3://...'` inside the client's own server session.

Timeline on the client's server connection (the client is waiting for its answer meanwhile):

    catalog lookup (SELECT, results consumed here)        -- fails like the COPY would: relayed
    [BEGIN]                           only if the client was idle: COPY is its own transaction
    COPY t (cols) FROM STDIN WITH (FORMAT csv) ; CopyData* ; CopyDone | CopyFail
    [COMMIT | ROLLBACK]               only if we opened the transaction
    stl_load_commits rows             on the history connection: kept after a ROLLBACK, as the
                                      Redshift log is

Errors found before the COPY starts are raised by the server itself (a DO block that RAISEs), so
the transaction ends up failed exactly as after any failed statement; errors found while
streaming end the COPY with CopyFail, which does the same.
"""

from __future__ import annotations

import asyncio
import logging
import re
import secrets
import struct
from collections.abc import Awaitable, Callable, Generator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

from redshift_standin import wire
from redshift_standin.copy_parser import mask_secrets, parse_copy
from redshift_standin.errors import LoadFailedError, StandInError
from redshift_standin.fields import Column
from redshift_standin.history import LoadHistory
from redshift_standin.sql_tokens import quote_literal
from redshift_standin.translate import BadRow, LoadPlan, LoadRun, check_emulated, prepare

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

    from redshift_standin.copy_spec import CopySpec, TableRef

log = logging.getLogger(__name__)
T = TypeVar("T")
_CANCELED = "57014"
_PG_LINE = re.compile(r"line (\d+)(?:, column (\S+?):)?")


class ServerChannel(Protocol):
    """The client's server connection while the proxy holds it."""

    dbname: str
    backend_pid: int
    txn_status: bytes

    async def send(self, *messages: wire.Message) -> None: ...
    async def receive(self) -> wire.Message: ...
    def poll(self) -> wire.Message | None: ...


@dataclass
class CopyContext:
    history: LoadHistory
    s3: Callable[[], S3Client]
    run_blocking: Callable[..., asyncio.Future[Any]]
    """Starts a blocking call in a thread pool at once; await the future for its result."""


@dataclass
class _Result:
    rows: list[list[str | None]] = field(default_factory=list)
    tag: str = ""
    error: wire.Message | None = None
    ready: wire.Message = field(default_factory=lambda: wire.ready_for_query(b"I"))


async def _query(channel: ServerChannel, sql: str) -> _Result:
    """Run one simple query on the server and consume its whole answer."""
    await channel.send(wire.query(sql))
    return await _collect(channel)


async def _collect(channel: ServerChannel) -> _Result:
    result = _Result()
    while True:
        message = await channel.receive()
        if message.type == b"D":
            result.rows.append(wire.parse_data_row(message.body))
        elif message.type == b"C":
            result.tag = wire.parse_command_tag(message.body)
        elif message.type == b"E":
            result.error = message
        elif message.type == b"Z":
            result.ready = message
            return result


async def run_s3_copy(channel: ServerChannel, sql: str, ctx: CopyContext) -> list[wire.Message]:
    """Execute the COPY; returns the messages the client must receive (ending in ReadyForQuery)."""
    log.debug("standin.copy.intercepted sql=%s", mask_secrets(sql))
    try:
        spec = parse_copy(sql)
        check_emulated(spec)
    except StandInError as exc:
        return await fail_via_server(channel, exc)
    lookup = await _query(channel, _catalog_sql(spec.table))
    if lookup.error is not None:
        return [lookup.error, lookup.ready]
    columns, table_oid = _columns(lookup.rows)
    query_id = await ctx.run_blocking(ctx.history.next_query_id, channel.dbname)
    try:
        plan = await ctx.run_blocking(lambda: prepare(spec, columns, ctx.s3()))
    except StandInError as exc:
        # pg_last_copy_id() names this COPY even though it never started streaming
        await ctx.run_blocking(
            lambda: ctx.history.record_copy(
                channel.dbname,
                pid=channel.backend_pid,
                query=query_id,
                table_oid=table_oid,
                bad_rows=[],
                loaded=0,
            )
        )
        return await fail_via_server(channel, exc, query_id)
    return await _CopyJob(channel, ctx, plan, query_id, table_oid).run()


async def fail_via_server(
    channel: ServerChannel, exc: StandInError, query_id: int | None = None
) -> list[wire.Message]:
    """Make the server raise our error, so its transaction state is what a failure leaves."""
    detail = redshift_detail(exc, query_id)
    tag = "standin_" + secrets.token_hex(4)
    body = (
        f"BEGIN RAISE EXCEPTION USING ERRCODE = {quote_literal(exc.sqlstate)}, "
        f"MESSAGE = {quote_literal(exc.message)}"
        + (f", DETAIL = {quote_literal(detail)}" if detail else "")
        + "; END"
    )
    result = await _query(channel, f"DO ${tag}${body}${tag}$")
    fields = wire.parse_fields(result.error.body) if result.error else {}
    if fields.get("C") == exc.sqlstate and fields.get("M") == exc.message:
        # Same error, minus the PL/pgSQL CONTEXT line a DO block adds.
        return [wire.error_response(exc.sqlstate, exc.message, detail=detail), result.ready]
    return [m for m in (result.error, result.ready) if m is not None]


def redshift_detail(exc: StandInError, query_id: int | None) -> str | None:
    """The DETAIL block Redshift attaches to COPY errors."""
    if exc.code is None and exc.context is None:
        return None
    rule = "-" * 47
    lines = [
        f"error:  {exc.message}",
        f"code:      {exc.code or 8001}",
        f"context:   {exc.context or ''}",
        f"query:     {query_id or 0}",
        "location:  redshift_standin",
        "process:   standin",
    ]
    return "\n  ".join(["", rule, *lines, rule])


def _catalog_sql(table: TableRef) -> str:
    return (
        "SELECT a.attname, coalesce(b.typname, t.typname),"
        " format_type(a.atttypid, a.atttypmod),"
        " CASE WHEN t.typtype = 'd' THEN t.typtypmod ELSE a.atttypmod END, a.attnotnull,"
        " a.attidentity <> '' OR coalesce(pg_get_expr(d.adbin, d.adrelid) LIKE 'nextval(%', false),"
        " a.attgenerated <> '', a.attrelid::oid::int8"
        " FROM pg_catalog.pg_attribute a"
        " JOIN pg_catalog.pg_type t ON t.oid = a.atttypid"
        " LEFT JOIN pg_catalog.pg_type b ON t.typtype = 'd' AND b.oid = t.typbasetype"
        " LEFT JOIN pg_catalog.pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum"
        f" WHERE a.attrelid = {quote_literal(table.sql())}::regclass"
        " AND a.attnum > 0 AND NOT a.attisdropped ORDER BY a.attnum"
    )


def _columns(rows: list[list[str | None]]) -> tuple[list[Column], int | None]:
    columns = [
        Column(
            name=str(r[0]),
            type_name=str(r[1]),
            display_type=str(r[2]),
            typmod=int(r[3] or -1),
            not_null=r[4] == "t",
            identity=r[5] == "t",
            generated=r[6] == "t",
        )
        for r in rows
    ]
    return columns, int(rows[0][7] or 0) if rows else None


class _CopyJob:
    """The COPY FROM STDIN part, from BEGIN to the client's answer."""

    def __init__(
        self,
        channel: ServerChannel,
        ctx: CopyContext,
        plan: LoadPlan,
        query_id: int,
        table_oid: int | None,
    ) -> None:
        self.channel = channel
        self.ctx = ctx
        self.plan = plan
        self.spec: CopySpec = plan.spec
        self.query_id = query_id
        self.table_oid = table_oid
        self.wrapped = channel.txn_status == b"I"
        self.run_state: LoadRun | None = None

    async def run(self) -> list[wire.Message]:
        if self.wrapped:
            begun = await _query(self.channel, "BEGIN")
            if begun.error is not None:
                return [begun.error, begun.ready]
        self.run_state = LoadRun(self.plan, self.ctx.s3())
        started = await _query_until_copy_in(self.channel, self.plan.copy_sql())
        if started is not None:  # the server refused the COPY itself (permissions, ...)
            return await self._finish([started.error] if started.error else [], started)
        failure = await self._stream(self.run_state)
        done = await _collect(self.channel)
        if failure is None and done.error is not None:
            failure = self._server_failure(done.error)
        if failure is not None:
            return await self._fail(failure, done)
        return await self._succeed(done)

    async def _stream(self, run: LoadRun) -> StandInError | wire.Message | None:
        """Send CopyData until done; on a failure end the COPY and return what failed."""
        chunks: Generator[bytes, None, None] = run.chunks()
        pending = self.ctx.run_blocking(next, chunks, None)
        try:
            while True:
                try:
                    chunk = await pending
                except StandInError as exc:
                    await self.channel.send(wire.copy_fail(exc.message))
                    return exc
                if chunk is None:
                    await self.channel.send(wire.copy_done())
                    return None
                pending = self.ctx.run_blocking(next, chunks, None)
                await self.channel.send(wire.copy_data(chunk))
                early = self.channel.poll()
                if early is not None and early.type == b"E":
                    # The server already failed the COPY and now ignores our CopyData.
                    return self._server_failure(early)
        finally:
            await _settle(pending)
            await self.ctx.run_blocking(chunks.close)

    def _server_failure(self, error: wire.Message) -> StandInError | wire.Message:
        fields = wire.parse_fields(error.body)
        if fields.get("C") == _CANCELED or self.run_state is None:
            return error  # a cancel is not a data error: relay it unchanged
        match = _PG_LINE.search(fields.get("W", ""))
        origin = self.run_state.origin(int(match.group(1))) if match else None
        column = (match.group(2) or "") if match else ""
        url, line = origin if origin else ("", 0)
        reason = fields.get("M", "rejected by PostgreSQL")
        self.run_state.bad_rows.append(
            BadRow(
                url=url,
                line_number=line,
                column=column,
                column_type="",
                col_length="0",
                position=0,
                raw_line="",
                raw_value=None,
                code=1216,
                reason=reason[:512],
            )
        )
        return LoadFailedError(
            self.spec.table.name, code=1216, context=f"{reason} ({url}, line {line})"
        )

    async def _fail(
        self, failure: StandInError | wire.Message, done: _Result
    ) -> list[wire.Message]:
        await self._record(loaded=0)
        if isinstance(failure, wire.Message):
            return await self._finish([failure], done)
        error = wire.error_response(
            failure.sqlstate, failure.message, detail=redshift_detail(failure, self.query_id)
        )
        return await self._finish([error], done)

    async def _succeed(self, copied: _Result) -> list[wire.Message]:
        assert self.run_state is not None
        loaded = int(copied.tag.split()[-1])  # "COPY n": what the server really stored
        files = self.run_state.files
        await self.ctx.run_blocking(
            lambda: self.ctx.history.record_commits(
                self.channel.dbname, query=self.query_id, table=str(self.spec.table), files=files
            )
        )
        last = copied
        if self.wrapped:
            last = await _query(self.channel, "COMMIT")
            if last.error is not None:
                return [last.error, last.ready]
        await self._record(loaded=loaded)
        return [*self._notices(loaded), wire.command_complete(f"COPY {loaded}"), last.ready]

    async def _finish(self, messages: list[wire.Message], last: _Result) -> list[wire.Message]:
        """Close the transaction we opened (if any) and answer with the final status."""
        ready = last.ready
        if self.wrapped and ready.body != b"I":
            ready = (await _query(self.channel, "ROLLBACK")).ready
        return [*messages, ready]

    async def _record(self, *, loaded: int) -> None:
        bad = self.run_state.bad_rows if self.run_state else []
        await self.ctx.run_blocking(
            lambda: self.ctx.history.record_copy(
                self.channel.dbname,
                pid=self.channel.backend_pid,
                query=self.query_id,
                table_oid=self.table_oid,
                bad_rows=bad,
                loaded=loaded,
            )
        )

    def _notices(self, loaded: int) -> list[wire.Message]:
        assert self.run_state is not None
        table = self.spec.table.name
        notices = [
            wire.notice_response(
                f"Load into table '{table}' completed, {loaded} record(s) loaded successfully."
            )
        ]
        skipped = len(self.run_state.bad_rows)
        if skipped:
            notices.append(
                wire.notice_response(
                    f"Load into table '{table}' completed, {skipped} record(s) could not be "
                    "loaded.  Check 'stl_load_errors' system table for details."
                )
            )
        return notices


async def _query_until_copy_in(channel: ServerChannel, sql: str) -> _Result | None:
    """Send the COPY; None once the server is in copy-in mode, else its (error) result."""
    await channel.send(wire.query(sql))
    while True:
        message = await channel.receive()
        if message.type == b"G":
            return None
        if message.type == b"E":
            result = await _collect(channel)
            result.error = message
            return result


async def _settle(pending: Awaitable[Any]) -> None:
    """Wait for an in-flight read so the generator can be closed; its outcome is moot."""
    try:
        await pending
    except StandInError:
        return


def backend_pid(key_data: bytes) -> int:
    (pid,) = struct.unpack("!I", key_data[:4])
    return int(pid)
