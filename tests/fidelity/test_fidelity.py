"""Every documented case (cases.py) through a real client: psycopg2, and psql where installed.

GIVEN the case's DDL and files in S3, WHEN its statements run through the client, THEN the rows
(or the error, and the stl_load_errors row) are those the Redshift documentation states.

The psql leg runs whenever `psql` is on PATH. Without it the leg is reported, never hidden:
skipped with the reason in the summary (-ra), and a failure when CI=true.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import uuid
from dataclasses import dataclass
from typing import Any

import psycopg2
import pytest
from fidelity.case import Case
from fidelity.cases import CASES

PSQL = shutil.which("psql")
_PSQL_ERROR = re.compile(r"ERROR:\s+([0-9A-Z]{5}):\s+(.*)")


@dataclass
class Outcome:
    ok: bool
    sqlstate: str | None = None
    message: str = ""


def _run_psycopg2(dsn: str, statements: list[str]) -> Outcome:
    conn = psycopg2.connect(dsn)
    conn.autocommit = True
    try:
        with conn.cursor() as cur:
            for sql in statements:
                try:
                    cur.execute(sql)
                except psycopg2.Error as exc:
                    return Outcome(False, exc.pgcode, (exc.pgerror or "").strip())
        return Outcome(True)
    finally:
        conn.close()


def _run_psql(dsn: str, statements: list[str]) -> Outcome:
    assert PSQL is not None
    args = [PSQL, "-X", "-v", "ON_ERROR_STOP=1", "-v", "VERBOSITY=verbose", "-d", dsn]
    for sql in statements:
        args += ["-c", sql]
    done = subprocess.run(args, capture_output=True, text=True, timeout=120, check=False)
    if done.returncode == 0:
        return Outcome(True)
    match = _PSQL_ERROR.search(done.stderr)
    if match is None:
        return Outcome(False, None, done.stderr.strip())
    return Outcome(False, match.group(1), match.group(2).strip())


def _client(name: str) -> Any:
    if name == "psycopg2":
        return _run_psycopg2
    if PSQL is None:
        reason = "psql is not installed: the psql leg of the fidelity suite did not run"
        if os.environ.get("CI") == "true":
            pytest.fail(reason)
        pytest.skip(reason + " (only the psycopg2 leg ran; CI=true makes this a failure)")
    return _run_psql


def _put_files(s3_client: Any, bucket: str, case: Case, s3: str) -> None:
    for name, body in case.files.items():
        data = body() if callable(body) else body
        payload = data.encode("utf-8") if isinstance(data, str) else data
        payload = payload.replace(b"{s3}", s3.encode())  # manifests and paths name the bucket
        s3_client.put_object(Bucket=bucket, Key=f"{case.id}/{name}", Body=payload)


def _query(dsn: str, sql: str) -> list[tuple[Any, ...]]:
    conn = psycopg2.connect(dsn, options="-c TimeZone=UTC")
    try:
        with conn.cursor() as cur:
            cur.execute(sql)
            return list(cur.fetchall())
    finally:
        conn.close()


def _load_error(dsn: str, s3: str) -> tuple[Any, ...] | None:
    rows = _query(
        dsn,
        "SELECT err_code, trim(colname), line_number, trim(type), trim(err_reason)"
        f" FROM stl_load_errors WHERE filename LIKE '{s3}%' ORDER BY query, line_number LIMIT 1",
    )
    return rows[0] if rows else None


@pytest.mark.parametrize("client", ["psycopg2", "psql"])
@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_documented_outcome(
    case: Case, client: str, redshift_standin: Any, s3_client: Any, s3_bucket: str
) -> None:
    run = _client(client)
    dsn = redshift_standin.dsn()
    table = f"fid_{uuid.uuid4().hex[:10]}"
    s3 = f"s3://{s3_bucket}/{case.id}/"

    def fill(sql: str) -> str:
        return sql.replace("{table}", table).replace("{s3}", s3)

    # GIVEN the documented table (created through the stand-in) and files
    setup = _run_psycopg2(dsn, [fill(case.ddl)])
    assert setup.ok, f"DDL refused: {setup.sqlstate} {setup.message}"
    _put_files(s3_client, s3_bucket, case, s3)
    try:
        # WHEN the documented statements run through the client
        outcome = run(dsn, [fill(sql) for sql in case.copy])

        # THEN the documented outcome
        if case.failure is None:
            assert outcome.ok, f"expected success, got {outcome.sqlstate}: {outcome.message}"
            assert _query(dsn, fill(case.select)) == case.rows
        else:
            failure = case.failure
            assert not outcome.ok, "expected the COPY to fail, it succeeded"
            if failure.sqlstate is not None:
                assert outcome.sqlstate == failure.sqlstate, outcome.message
            assert failure.message in outcome.message
            if failure.load_error is not None:
                _assert_load_error(_load_error(dsn, s3), failure.load_error)
        for sql, expected in case.checks:
            wanted = [tuple(fill(v) if isinstance(v, str) else v for v in row) for row in expected]
            assert _query(dsn, fill(sql)) == wanted, sql
    finally:
        _run_psycopg2(dsn, [f"DROP TABLE IF EXISTS {table}"])


def _assert_load_error(row: tuple[Any, ...] | None, expected: Any) -> None:
    assert row is not None, "no stl_load_errors row for the case's files"
    code, column, line, type_, reason = row
    assert code == expected.code, row
    if expected.column is not None:
        assert column == expected.column, row
    if expected.line is not None:
        assert line == expected.line, row
    if expected.type is not None:
        assert type_ == expected.type, row
    if expected.reason is not None:
        assert expected.reason in reason, row
