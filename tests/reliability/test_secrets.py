"""Security: no secret in any log line (at DEBUG), on stdout/stderr, in a notification or in
what operators read on a batch; TLS verification on by default.

Loads run through real targets (the e2e stack) with secret-bearing configurations: database
passwords from Secrets Manager and from KMS, COPY with static keys (the secret key KMS-encrypted),
with the Lambda's temporary credentials (session token), with a client-side encryption master
key; some loads succeed, some fail (bad rows, options the target refuses), so the error paths
and failure notifications are covered too.

The IAM side (no `*` action in the template) is tested in
tests/functional/test_template.py::test_no_policy_statement_has_a_wildcard_action.
"""

from __future__ import annotations

import base64
import json
import logging
import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import psycopg2
import pytest
from e2e.stack import Stack
from hypothesis import given, settings
from hypothesis import strategies as st
from reliability.crash_run import notified, topic_with_inbox
from reliability.invariants import headers
from reliability.report import Report, scaled

from config.copy_options import CopyOptions
from config.targets import CopyAuthorization, PostgresTarget, RedshiftTarget
from loader.copy_sql import CopySecrets, build_copy, quote_literal
from loader.deps import Deps
from loader.events import parse_event
from loader.loading import build_loader
from loader.loading.targets.db_errors import describe
from loader.loading.targets.redshift import connection_params
from loader.log import logger
from loader.models import DbLogin
from loader.notify import build_notifier, message
from loader.ports import LoadResult
from loader.service import LoaderService
from support.events import s3_event

SM_PASSWORD = "sm-Passw0rd-7d1e9c"
KMS_PASSWORD = "kms-Passw0rd-31f0aa"
COPY_KEY_ID = "AKIARELIABILITY0TEST"
COPY_SECRET = "copy-secret-access-key-55e2f1"
LAMBDA_KEY_ID = "ASIARELIABILITY0TEST"
LAMBDA_SECRET = "lambda-secret-access-key-c7d6"
LAMBDA_TOKEN = "lambda-session-token-a9b8e0f1"
MASTER_KEY = base64.b64encode(b"master-symmetric-key-e5f4d3c2b1a0").decode()
SECRETS = [
    SM_PASSWORD,
    KMS_PASSWORD,
    COPY_KEY_ID,
    COPY_SECRET,
    LAMBDA_KEY_ID,
    LAMBDA_SECRET,
    LAMBDA_TOKEN,
    MASTER_KEY,
]


class _Everything(logging.Handler):
    """Every log record of every logger, with all its fields."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)

    def text(self, *, loader_only: bool) -> str:
        lines = []
        for r in self.records:
            if loader_only and r.name != logger.name:
                continue
            fields = {k: v for k, v in vars(r).items() if k not in ("args", "exc_info")}
            lines.append(json.dumps(fields, default=str))
            lines.append(r.getMessage())
            if r.exc_info:
                lines.append(logging.Formatter().formatException(r.exc_info))
        return "\n".join(lines)


@pytest.fixture
def debug_logs(monkeypatch: pytest.MonkeyPatch) -> Iterator[_Everything]:
    """LOG_LEVEL=DEBUG as the Lambda would have it (the logger reads it at import, so it is set
    on the logger too; test_log_level_debug_is_honoured checks the import path)."""
    monkeypatch.setenv("LOG_LEVEL", "DEBUG")
    monkeypatch.setenv("POWERTOOLS_LOG_LEVEL", "DEBUG")
    handler = _Everything()
    root = logging.getLogger()
    previous = (logger.log_level, root.level)
    logger.setLevel("DEBUG")
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    try:
        yield handler
    finally:
        root.removeHandler(handler)
        root.setLevel(previous[1])
        logger.setLevel(previous[0])


def test_log_level_debug_is_honoured() -> None:
    out = subprocess.run(
        [sys.executable, "-c", "from loader.log import logger; print(logger.log_level)"],
        env={**os.environ, "LOG_LEVEL": "DEBUG"},
        capture_output=True,
        text=True,
        check=True,
        cwd=Path.cwd(),
    )
    assert out.stdout.strip() == str(logging.DEBUG)


@dataclass
class Case:
    target: str  # redshift | data_api | postgres
    login: str  # secret | kms_password | (none)
    copy_auth: str  # keys | lambda | role
    body: str
    fails: bool = False
    encrypted: bool = False


CASES = {
    "redshift, Secrets Manager login, COPY with static keys": Case(
        "redshift", "secret", "keys", "1,a\n2,b\n"
    ),
    "redshift, KMS password, COPY with Lambda credentials, bad row": Case(
        "redshift", "kms_password", "lambda", "x,a\n", fails=True
    ),
    "redshift, encrypted input with a master key (refused)": Case(
        "redshift", "secret", "role", "1,a\n", fails=True, encrypted=True
    ),
    "data_api, COPY with static keys, bad row": Case(
        "data_api", "", "keys", "1,a\nx,b\n", fails=True
    ),
    "postgres, Secrets Manager login": Case("postgres", "secret", "role", "1,a\n"),
}


def _kms_blob(session: boto3.Session, key: str, plaintext: str) -> str:
    blob = session.client("kms").encrypt(KeyId=key, Plaintext=plaintext.encode())
    return base64.b64encode(blob["CiphertextBlob"]).decode()


def _target(stack: Stack, case: Case, table: str, session: boto3.Session, key: str) -> dict:
    target = stack.target(case.target, table)
    secret = session.client("secretsmanager").create_secret(
        Name="login", SecretString=json.dumps({"username": "postgres", "password": SM_PASSWORD})
    )["ARN"]
    if case.target == "redshift" and case.login == "secret":
        target["secret_arn"] = secret
    if case.target == "redshift" and case.login == "kms_password":
        target.pop("secret_arn")
        target |= {
            "auth": "kms_password",
            "user": "postgres",
            "encrypted_password": _kms_blob(session, key, KMS_PASSWORD),
        }
    if case.target == "postgres":
        target["secret_arn"] = secret
    if case.copy_auth == "keys":
        target["copy_authorization"] = {
            "access_key_id": COPY_KEY_ID,
            "encrypted_secret_access_key": _kms_blob(session, key, COPY_SECRET),
        }
    if case.copy_auth == "lambda":
        target["copy_authorization"] = {"lambda_credentials": True}
    return target


@pytest.mark.parametrize("name", list(CASES))
def test_no_secret_reaches_logs_notifications_or_batches(
    stack: Stack,
    name: str,
    debug_logs: _Everything,
    capfd: pytest.CaptureFixture[str],
    report: Report,
) -> None:
    # GIVEN a prefix whose load needs secrets, and a worker whose own AWS credentials are
    # temporary ones (what `lambda_credentials` puts into the COPY)
    case = CASES[name]
    session = stack.env.session
    key = session.client("kms").create_key()["KeyMetadata"]["KeyId"]
    table = stack.table("id int, name varchar(10)")
    topic, inbox = topic_with_inbox(session, "outcomes")
    options = (
        {"encrypted": True, "encrypted_master_symmetric_key": _kms_blob(session, key, MASTER_KEY)}
        if case.encrypted
        else {}
    )
    config = stack.config(
        _target(stack, case, table, session, key),
        files=1,
        copy_options=options,
        notifications={"success_topic_arn": topic, "failure_topic_arn": topic},
    )
    worker = boto3.Session(
        aws_access_key_id=LAMBDA_KEY_ID,
        aws_secret_access_key=LAMBDA_SECRET,
        aws_session_token=LAMBDA_TOKEN,
        region_name="us-east-1",
    )
    deps = Deps(stack.env.settings, worker)
    deps._clients["redshift-data"] = stack.data_api
    service = LoaderService(
        deps,
        loader=build_loader(deps, clock=stack.env.clock),
        notifier=build_notifier(deps, clock=stack.env.clock),
        clock=stack.env.clock,
    )

    # WHEN a file arrives and is loaded (or fails to load), logging at DEBUG
    service.handle(parse_event(s3_event(stack.put("in/a.csv", case.body))))
    stack.env.clock.advance(stack.env.settings.lease_seconds + 1)
    service.handle(parse_event({"loader": "sweep"}))  # retries, if any
    [batch] = [b for b in headers(deps, [config.prefix]) if b.file_count]

    # THEN the load went as expected ...
    assert (batch.status.value == "error") is case.fails, batch.error
    notes = notified(session, inbox)
    assert notes, "no notification"
    # ... and no secret is in the loader's logs, the output, the notifications or the batch
    out, err = capfd.readouterr()
    places = {
        "loader logs (DEBUG)": debug_logs.text(loader_only=True),
        "stdout/stderr": out + err,
        "notifications": json.dumps(notes),
        "batch record": batch.model_dump_json(),
    }
    leaks = {where: [s for s in SECRETS if s in text] for where, text in places.items()}
    report.add(
        "secrets in logs and notifications",
        files=1,
        faults=int(case.fails),
        lost=0,
        duplicated=0,
        stuck=0,
        note=name,
    )
    assert {where: found for where, found in leaks.items() if found} == {}


def test_tls_is_verified_by_default() -> None:
    # GIVEN targets configured without any TLS setting
    redshift = RedshiftTarget(
        name="w",
        table="t",
        host="127.0.0.1",
        auth="secret",
        secret_arn="arn:aws:secretsmanager:us-east-1:1:secret:x",
    )
    postgres_target = PostgresTarget(name="p", table="t", dsn="host=127.0.0.1")

    # THEN both verify the server's certificate and host name
    assert redshift.sslmode == "verify-full" and postgres_target.sslmode == "verify-full"
    params = connection_params(
        redshift, DbLogin("u", "p"), ca_bundle=None, libpq_version=psycopg2.__libpq_version__
    )
    assert params["sslmode"] == "verify-full"


def test_a_server_without_tls_is_refused_by_default(stack: Stack) -> None:
    # GIVEN the Redshift stand-in, which speaks no TLS, and a target left at the defaults
    host, port = stack.proxy.address
    target = RedshiftTarget(
        name="w",
        table="t",
        host=host,
        port=port,
        database="postgres",
        auth="secret",
        secret_arn=stack.secret_arn,
    )
    params = connection_params(
        target, DbLogin("postgres", "x"), ca_bundle=None, libpq_version=psycopg2.__libpq_version__
    )

    # WHEN the loader connects, THEN libpq refuses to go on in clear text
    with pytest.raises(psycopg2.OperationalError, match=r"(?i)ssl"):
        psycopg2.connect(**params).close()


# --- what a warehouse sends back is masked before anyone sees it ------------------------------

# Marked, so that a generated secret cannot occur in the text by chance ("failed-m...").
SECRET_TEXT = (
    st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"), max_size=32)
    .map(lambda text: f"S3cr§{text}")
    .filter(lambda secret: secret == secret.strip())
)


@given(
    secret=SECRET_TEXT,
    token=SECRET_TEXT,
    master=SECRET_TEXT,
    how=st.sampled_from(["statement", "literal", "raw", "credentials pair"]),
)
@settings(max_examples=scaled(60), deadline=None)
def test_an_error_quoting_the_copy_is_masked_in_errors_and_notifications(
    secret: str, token: str, master: str, how: str
) -> None:
    # GIVEN a COPY that carries secrets, and a target whose error text quotes it (as libpq's
    # full message does with its "LINE 1:" context, or a driver echoing the statement)
    secrets = CopySecrets(
        access_key_id=COPY_KEY_ID,
        secret_access_key=secret,
        session_token=token,
        master_symmetric_key=master,
    )
    auth = CopyAuthorization()
    copy = build_copy(
        "t",
        None,
        "s3://bucket/manifest.json",
        CopyOptions(encrypted=True, encrypted_master_symmetric_key="x"),
        auth,
        secrets=secrets,
    )
    quoted = {
        "statement": f'syntax error at or near "X"\nLINE 1: {copy}',
        "literal": f"bad value {quote_literal(secret)} for {quote_literal(token)} ({master})",
        "raw": f"{secret} {token} {master}",
        "credentials pair": f"CREDENTIALS 'aws_access_key_id={COPY_KEY_ID};"
        f"aws_secret_access_key={secret};token={token}'",
    }[how]

    # WHEN it becomes the batch's error and its failure notification
    error = describe("warehouse", "XX000", quoted, secrets=secrets)
    note = message.build(
        _config(),
        _failed_batch(),
        LoadResult(error=error),
        topic_arn="arn:aws:sns:x",
        finished_at=0.0,
        version="test",
    )

    # THEN neither carries a secret
    for text in (error, note.sns_message(), note.email, note.subject):
        for value in (secret, token, master):
            assert value not in text


def _config() -> Any:
    from support.aws import make_config

    return make_config()


def _failed_batch() -> Any:
    from loader.models import Batch, BatchStatus

    return Batch(
        batch_id="b",
        prefix="landing-bucket/events",
        status=BatchStatus.ERROR,
        created_at=0.0,
        updated_at=0.0,
        file_count=1,
        manifest_url="s3://loader-manifests/manifests/b.json",
    )


def test_a_secret_ending_in_a_space_is_masked_too() -> None:
    password = "pw-ends-with-a-space "
    secrets = CopySecrets(access_key_id=COPY_KEY_ID, secret_access_key=password)

    error = describe("warehouse", "28P01", f"authentication failed for {password}", secrets=secrets)

    assert password.strip() not in error
