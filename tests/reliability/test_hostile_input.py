"""Hostile and malformed input: a clear error, nothing partial written, bad messages fail alone.

Property-based (hypothesis) over events (random JSON, truncated bodies, wrong types, huge and
oddly encoded keys, nesting, SQS batches mixing good and bad messages) and configurations
(injection attempts in identifiers and options, invalid regexes, contradictory options).
"""

from __future__ import annotations

import json
import uuid
from typing import Any

import pytest
from hypothesis import HealthCheck, assume, example, given, settings
from hypothesis import strategies as st
from pydantic import ValidationError
from reliability.report import Report, scaled

from config.models import PrefixConfig
from loader.adapters.codec import encode
from loader.copy_sql import build_copy, build_merge, build_truncate, quote_ident
from loader.errors import MalformedEventError
from loader.events import Invocation, parse_event
from redshift_standin.sql_tokens import Kind, split_statements, tokenize
from support.aws import BUCKET, Env, make_config
from support.events import eventbridge_event, s3_event, s3_record, sns_envelope, sqs_event

SETTINGS = settings(
    max_examples=scaled(60),
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
# Each example of these writes to (in-process) DynamoDB: fewer of them.
AWS_SETTINGS = settings(SETTINGS, max_examples=scaled(25))

# --- strategies ------------------------------------------------------------------------------

JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=4)
    ),
    max_leaves=25,
)
# Every character S3 allows in a key (valid UTF-8, so no lone surrogates), '/' included.
KEY_TEXT = st.text(st.characters(blacklist_categories=("Cs",)), min_size=1, max_size=40)


def _paths(value: Any, path: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    found = [path]
    if isinstance(value, dict):
        for k, v in value.items():
            found += _paths(v, (*path, k))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            found += _paths(v, (*path, i))
    return found


def _replace(value: Any, path: tuple[Any, ...], new: Any) -> Any:
    if not path:
        return new
    copy = json.loads(json.dumps(value))
    node = copy
    for part in path[:-1]:
        node = node[part]
    node[path[-1]] = new
    return copy


@st.composite
def mutated_events(draw: st.DrawFn, *, huge_keys: bool = True) -> Any:
    """A valid notification with one part replaced by anything, truncated, or re-wrapped."""
    key = "events/" + draw(KEY_TEXT)
    base = draw(
        st.sampled_from(
            [
                s3_event(s3_record(BUCKET, key)),
                sns_envelope(s3_event(s3_record(BUCKET, key))),
                eventbridge_event(BUCKET, key),
                {
                    "loader": "flush_timer",
                    "prefix": f"{BUCKET}/events",
                    "batch_id": "b",
                    "due_at": 1.0,
                },
                {"loader": "sweep"},
            ]
        )
    )
    how = draw(st.sampled_from(["replace", "truncate", "wrap", *(["huge key"] * huge_keys)]))
    if how == "replace":
        return _replace(base, draw(st.sampled_from(_paths(base))), draw(JSON))
    if how == "truncate":
        text = json.dumps(base)
        return text[: draw(st.integers(0, len(text) - 1))]
    if how == "wrap":
        for _ in range(draw(st.integers(1, 6))):
            base = sns_envelope(base)
        return base
    return s3_event(s3_record(BUCKET, "events/" + "k" * draw(st.integers(1025, 4000))))


# --- events: pure parsing ----------------------------------------------------------------------


@given(event=JSON | mutated_events())
@example(event={"Records": [{"eventSource": "aws:sqs", "messageId": "m", "body": "[" * 500}]})
@example(event=sqs_event("[" * 500 + "]" * 500))
@SETTINGS
def test_any_event_is_understood_or_rejected_with_a_message(event: Any) -> None:
    try:
        invocation = parse_event(event)
    except MalformedEventError as exc:
        assert str(exc).strip(), "a rejection says why"
        return
    assert isinstance(invocation, Invocation)
    for message in invocation.messages:
        assert message.error is None or message.error.strip()


def test_an_eventbridge_message_with_a_bad_time_fails_alone() -> None:
    bad = eventbridge_event(BUCKET, "events/a.csv") | {"time": []}

    invocation = parse_event(sqs_event(bad, s3_event(s3_record(BUCKET, "events/b.csv"))))

    assert invocation.messages[0].error
    assert invocation.messages[1].error is None


# --- events against the loader: nothing partial ---------------------------------------------


def _counts(env: Env) -> tuple[int, int]:
    db = env.session.client("dynamodb")
    tables = env.settings.tables
    return tuple(  # type: ignore[return-value]
        db.scan(TableName=name, Select="COUNT", ConsistentRead=True)["Count"]
        for name in (tables.files, tables.batches)
    )


def _store_invalid_config(env: Env, prefix: str) -> None:
    """A hand-edited configuration item that no longer validates."""
    env.session.client("dynamodb").put_item(
        TableName=env.settings.tables.config,
        Item=encode({"prefix": prefix, "config": json.dumps({"prefix": prefix, "targets": []})}),
    )


# Huge keys included: past S3's 1,024 bytes they are refused when parsed (MalformedEventError).
@given(event=mutated_events(huge_keys=True))
@AWS_SETTINGS
def test_a_rejected_direct_invocation_writes_nothing(env: Env, event: Any) -> None:
    env.put_config(make_config(thresholds={"max_files": 10_000}))
    before = _counts(env)
    try:
        env.service().handle(parse_event(event))
    except MalformedEventError as exc:
        assert str(exc).strip()
        assert _counts(env) == before, "a rejected event wrote something"


BAD_BODIES: dict[str, Any] = {
    "truncated JSON": json.dumps(s3_event(s3_record(BUCKET, "events/t.csv")))[:57],
    "not JSON": "hello",
    "a JSON list": "[1, 2, 3]",
    "a number": "42",
    "no Records": {"records": []},
    "empty Records": {"Records": []},
    "size is text": s3_event(
        _replace(s3_record(BUCKET, "events/s.csv"), ("s3", "object", "size"), "big")
    ),
    "negative size": s3_event(
        _replace(s3_record(BUCKET, "events/n.csv"), ("s3", "object", "size"), -1)
    ),
    "key is a number": s3_event(
        _replace(s3_record(BUCKET, "events/x.csv"), ("s3", "object", "key"), 12)
    ),
    "no bucket": s3_event(_replace(s3_record(BUCKET, "events/b.csv"), ("s3", "bucket"), None)),
    "foreign eventSource": s3_event(
        _replace(s3_record(BUCKET, "events/f.csv"), ("eventSource",), "aws:dynamodb")
    ),
    "unknown loader message": {"loader": "drop-tables"},
    "flush timer without batch": {"loader": "flush_timer", "prefix": "p", "due_at": 1},
    "EventBridge from elsewhere": {"detail-type": "Object Created", "source": "evil"},
    "SNS nested too deeply": sns_envelope(
        sns_envelope(
            sns_envelope(sns_envelope(sns_envelope(s3_event(s3_record(BUCKET, "events/deep.csv")))))
        )
    ),
    "prefix with an invalid configuration": s3_event(s3_record(BUCKET, "broken/a.csv")),
}


@given(
    good_keys=st.lists(KEY_TEXT, min_size=1, max_size=6, unique=True),
    bad=st.lists(
        st.sampled_from(sorted(BAD_BODIES)) | JSON.map(json.dumps), min_size=1, max_size=5
    ),
    order=st.randoms(use_true_random=False),
)
@AWS_SETTINGS
def test_an_sqs_batch_fails_exactly_its_bad_messages_every_time(
    env: Env, good_keys: list[str], bad: list[str], order: Any, report: Report
) -> None:
    # GIVEN an SQS batch mixing notifications of files with odd names and hostile messages
    env.put_config(make_config(thresholds={"max_files": 10_000}))
    _store_invalid_config(env, f"{BUCKET}/broken")
    token = uuid.uuid4().hex[:8]
    keys = [f"events/{token}/{k}" for k in good_keys]
    bodies = [(True, s3_event(s3_record(BUCKET, k))) for k in keys]
    bodies += [(False, BAD_BODIES.get(b, b)) for b in bad]
    order.shuffle(bodies)
    event = sqs_event(*(body for _, body in bodies))
    ids = [r["messageId"] for r in event["Records"]]
    expected_failures = sorted(i for i, (good, _) in zip(ids, bodies, strict=True) if not good)
    # A hostile message that happens to be a valid notice (random JSON rarely is) is not bad.
    assume(
        all(
            parse_event(sqs_event(b)).messages[0].error is not None or "broken/" in json.dumps(b)
            for good, b in bodies
            if not good
        )
    )
    before = _counts(env)

    # WHEN it is delivered, and delivered again (SQS retries the failed ones)
    first = env.service().handle(parse_event(event)).as_response(from_sqs=True)
    second = env.service().handle(parse_event(event)).as_response(from_sqs=True)

    # THEN the bad messages, and only they, are reported failed both times ...
    for response in (first, second):
        assert sorted(f["itemIdentifier"] for f in response["batchItemFailures"]) == (
            expected_failures
        )
    # ... and the good files are registered once, under their exact names; nothing else
    ledger = {item["url"]: item for item in env.ledger()}
    for key in keys:
        record = ledger[f"s3://{BUCKET}/{key}"]
        assert record["times_received"] == 2
    files_after, _ = _counts(env)
    assert files_after - before[0] == len(keys)
    report.add("hostile SQS batches (files: good, faults: bad)", files=len(keys), faults=len(bad))


DEEP = "[" * 100_000 + "]" * 100_000


def test_a_message_nested_too_deeply_fails_alone(env: Env) -> None:
    env.put_config(make_config(thresholds={"max_files": 10_000}))
    good = s3_event(s3_record(BUCKET, "events/good.csv"))

    result = env.service().handle(parse_event(sqs_event(DEEP, good)))

    assert result.failed_message_ids == ["msg-0"]
    assert [i["url"] for i in env.ledger()] == [f"s3://{BUCKET}/events/good.csv"]


def test_a_file_with_the_longest_key_s3_allows_is_registered(env: Env) -> None:
    env.put_config(make_config(thresholds={"max_files": 10_000}))
    key = "events/" + "k" * (1024 - len("events/"))

    result = env.service().handle(parse_event(sqs_event(s3_event(s3_record(BUCKET, key)))))

    assert result.failed_message_ids == []
    assert [i["url"] for i in env.ledger()] == [f"s3://{BUCKET}/{key}"]


def test_a_file_that_cannot_be_registered_does_not_fail_the_other_messages(env: Env) -> None:
    env.put_config(make_config(thresholds={"max_files": 10_000}))
    poison = s3_record(BUCKET, "events/" + "k" * 1100)
    good = s3_record(BUCKET, "events/good.csv")

    result = env.service().handle(parse_event(sqs_event(s3_event(poison), s3_event(good))))

    assert result.failed_message_ids == ["msg-0"]
    assert [i["url"] for i in env.ledger()] == [f"s3://{BUCKET}/events/good.csv"]


def test_odd_key_encodings_are_decoded_once(env: Env) -> None:
    env.put_config(make_config(thresholds={"max_files": 10_000}))
    keys = [
        "events/a b.csv",
        "events/a+b.csv",
        "events/100%.csv",
        "events/ünï cødé.csv",
        "events/%2B%20.csv",
        "events/tab\t.csv",
        "events/emoji-😀.csv",
    ]
    records = [s3_record(BUCKET, k) for k in keys]
    assert records[1]["s3"]["object"]["key"] == "events/a%2Bb.csv"  # as S3 sends it

    env.service().handle(parse_event(s3_event(*records)))

    assert sorted(i["url"] for i in env.ledger()) == sorted(f"s3://{BUCKET}/{k}" for k in keys)


# --- configurations ----------------------------------------------------------------------------

INJECTIONS = [
    'events"; DROP TABLE users; --',
    "events'; DROP TABLE users; --",
    "ev\\'ents",
    'e"v"e"n"t"s',
    "events\x00",
    "events;",
    "events -- comment",
    "/* c */events",
    "évents",
    "a" * 200,
]
NAME = st.sampled_from(INJECTIONS) | st.text(max_size=30)
OPTIONS_TEXT = st.sampled_from(
    [
        "'; DROP TABLE users; --",
        "ACCEPTANYDATE; DELETE FROM users",
        "CREDENTIALS 'aws_access_key_id=AKIA;aws_secret_access_key=x'",
        "IAM_ROLE 'arn:aws:iam::123456789012:role/x'",
        "COMPROWS 100000",
        "ACCEPTANYDATE",
        "TIMEFORMAT 'auto' $$ ; $$",
        "MANIFEST",
        "x' OR '1'='1",
    ]
) | st.text(max_size=40)
REGEX = st.sampled_from(["*.csv", "(", "[a-", "a{2,1}", r"\\", ".*\\.csv", "(?P<x>a)(?P<x>b)"]) | (
    st.text(max_size=10)
)


BASE_TARGETS: dict[str, dict[str, Any]] = {
    "redshift": {"host": "example.com", "cluster_identifier": "c"},
    "data_api": {"cluster_identifier": "c"},
    "postgres": {"dsn": "host=/tmp"},
}
# Mistakes a configuration must be refused for, each with a reason.
MISTAKES: dict[str, Any] = {
    "merge and truncate": lambda c, d: c["targets"][0].update(
        truncate_before_load=True, merge={"key_columns": ["id"]}
    ),
    "invalid regex": lambda c, d: c.update(filename_filter=d(REGEX)),
    "wildcard file pattern as prefix": lambda c, d: c.update(prefix=f"{BUCKET}/*.csv"),
    "invalid bucket": lambda c, d: c.update(prefix="Bad_Bucket/x"),
    "empty path segment": lambda c, d: c.update(prefix=f"{BUCKET}//x"),
    "no threshold": lambda c, d: c.update(thresholds={}),
    "zero files": lambda c, d: c.update(thresholds={"max_files": 0}),
    "manifests inside the watched prefix": lambda c, d: c.update(
        manifest={"bucket": BUCKET, "prefix": "events/manifests"}
    ),
    "options text": lambda c, d: c["copy_options"].update(extra_options=d(OPTIONS_TEXT)),
    "delimiter for JSON": lambda c, d: c["copy_options"].update(
        format={"type": "json", "delimiter": "|"}
    ),
    "header rows for Parquet": lambda c, d: c["copy_options"].update(
        format={"type": "parquet", "ignore_header_rows": 1}
    ),
    "encrypted without a key": lambda c, d: c["copy_options"].update(encrypted=True),
    "lambda credentials and a role": lambda c, d: c["targets"][0].update(
        copy_authorization={
            "lambda_credentials": True,
            "iam_roles": ["arn:aws:iam::123456789012:role/r"],
        }
    ),
    "ledger schema": lambda c, d: c["targets"][0].update(ledger_schema=d(NAME)),
    "target name": lambda c, d: c["targets"][0].update(name=d(NAME)),
    "secret login without a secret": lambda c, d: (
        c["targets"][0].update(auth="secret")
        if c["targets"][0]["type"] == "redshift"
        else c["targets"][0].update(dsn=None)
    ),
}


@st.composite
def hostile_configs(draw: st.DrawFn) -> dict[str, Any]:
    """A valid configuration with hostile names and values where names and values are allowed
    (they must come out quoted), and sometimes mistakes it must be refused for."""
    kind = draw(st.sampled_from(sorted(BASE_TARGETS)))
    target: dict[str, Any] = {"type": kind, "name": "warehouse", "table": "events"}
    target |= BASE_TARGETS[kind]
    config: dict[str, Any] = {
        "prefix": f"{BUCKET}/events",
        "thresholds": {"max_files": 10},
        "manifest": {"bucket": "loader-manifests"},
        "targets": [target],
        "copy_options": {},
    }
    if draw(st.booleans()):
        target["table"] = draw(st.sampled_from(["{}", "public.{}", "{}.t"])).format(draw(NAME))
    if draw(st.booleans()):
        target["columns"] = draw(st.lists(NAME, min_size=1, max_size=3))
    if draw(st.booleans()):
        target["merge"] = {"key_columns": draw(st.lists(NAME, min_size=1, max_size=2))}
    if draw(st.booleans()):
        config["copy_options"]["null_as"] = draw(NAME)
    if draw(st.booleans()):
        config["copy_options"]["format"] = {"type": "csv", "delimiter": draw(NAME)}
    if draw(st.booleans()):
        config["filename_filter"] = draw(st.sampled_from([r".*\.csv", "a'; --", '"x"']))
    if draw(st.booleans()):
        for mistake in draw(
            st.lists(st.sampled_from(sorted(MISTAKES)), min_size=1, max_size=2, unique=True)
        ):
            MISTAKES[mistake](config, draw)
    return config


def _single_statement(sql: str) -> list[Any]:
    tokens = tokenize(sql)
    statements = [s for s in split_statements(tokens) if s]
    assert len(statements) == 1, f"more than one statement in {sql!r}"
    return statements[0]


@given(raw=hostile_configs())
@SETTINGS
def test_a_hostile_configuration_is_refused_with_reasons_or_yields_only_safe_sql(
    raw: dict[str, Any], report: Report
) -> None:
    try:
        config = PrefixConfig.model_validate(raw)
    except ValidationError as exc:
        assert exc.errors() and all(str(e["msg"]).strip() for e in exc.errors())
        report.add("hostile configurations (faults: refused)", faults=1)
        return
    except ValueError as exc:  # a validator's own message
        assert str(exc).strip()
        report.add("hostile configurations (faults: refused)", faults=1)
        return
    target = config.targets[0]
    try:
        copy = build_copy(
            target.table,
            target.columns,
            "s3://loader-manifests/m.json",
            config.copy_options,
            getattr(target, "copy_authorization", _no_auth()),
            secrets=_secrets(config),
        )
        statements = [copy, build_truncate(target.table)]
        if target.merge is not None:
            statements += build_merge(
                target.table, "stage", target.merge.key_columns, target.columns
            )
    except ValueError as exc:  # refused when the SQL is built: a configuration error
        assert str(exc).strip()
        report.add("hostile configurations (faults: refused)", faults=1)
        return
    for sql in statements:
        tokens = _single_statement(sql)
        assert not any(t.kind is Kind.OTHER and t.value == "$" for t in tokens)
    # The table is one quoted identifier (or two, schema-qualified), whatever its name.
    first = tokenize(copy)
    assert first[0].is_word("COPY") and first[1].kind is Kind.QIDENT
    assert copy.startswith(f"COPY {quote_ident(target.table)}")
    report.add("hostile configurations (faults: refused)")


def _no_auth() -> Any:
    from config.targets import CopyAuthorization

    return CopyAuthorization()


def _secrets(config: PrefixConfig) -> Any:
    from loader.copy_sql import CopySecrets

    return CopySecrets(master_symmetric_key="k" * 44 if config.copy_options.encrypted else None)


@pytest.mark.parametrize(
    "name", [n for n in INJECTIONS if "\x00" not in n and len(n) < 100], ids=repr
)
def test_an_injection_in_a_name_or_value_stays_inside_its_quotes(name: str) -> None:
    # GIVEN a configuration whose table, columns, merge key and NULL text are hostile
    config = PrefixConfig.model_validate(
        {
            "prefix": f"{BUCKET}/events",
            "thresholds": {"max_files": 10},
            "manifest": {"bucket": "loader-manifests"},
            "targets": [
                {
                    "type": "redshift",
                    "name": "warehouse",
                    "table": f"public.{name}",
                    "columns": [name, "id"],
                    "merge": {"key_columns": [name]},
                    "host": "example.com",
                    "cluster_identifier": "c",
                }
            ],
            "copy_options": {"null_as": name},
        }
    )
    target = config.targets[0]

    # WHEN the loader builds its statements
    copy = build_copy(
        target.table,
        target.columns,
        "s3://loader-manifests/m.json",
        config.copy_options,
        _no_auth(),
    )
    merge = build_merge(target.table, "stage", target.merge.key_columns, target.columns)

    # THEN each is one statement, and the name is one quoted identifier, intact
    for sql in [copy, *merge]:
        _single_statement(sql)
    tokens = tokenize(copy)
    assert [t.kind for t in tokens[:4]] == [Kind.WORD, Kind.QIDENT, Kind.PUNCT, Kind.QIDENT]
    assert (tokens[1].value, tokens[3].value) == ("public", name)
    assert any(t.kind is Kind.STRING and t.value == name for t in tokens)  # NULL AS 'name'
