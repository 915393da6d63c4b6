"""Generated statements obey the documented COPY grammar (issue 14, part 1).

A broad matrix of configurations, enumerated and drawn by Hypothesis, goes through the real
models (`config/`), the real COPY builder (`loader/copy_sql.py`) and the real load-script builder
(`loader/loading/sql/script.py`). Every configuration the models accept must give statements that
the independent checker `tests/support/copy_grammar.py`, written from the Redshift documentation,
finds conforming. Configurations the models refuse are counted, never built.
"""

from __future__ import annotations

import itertools
from typing import Any

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from pydantic import TypeAdapter, ValidationError

from config.copy_options import CopyOptions
from config.targets import Target
from loader.copy_sql import CopySecrets, build_copy
from loader.loading.sql.ledger import Dialect, LedgerEntry
from loader.loading.sql.script import StepKind, build_script
from support.copy_grammar import check_copy, parse

ENTRY = LedgerEntry("b-1", "wh", "bucket/in", "s3://manifests-1/m/b-1.json", 2, 0.0)
TARGETS: TypeAdapter[Target] = TypeAdapter(Target)
ROLE = "arn:aws:iam::123456789012:role/Load"

# --- the checker itself can fail: documented mistakes are caught ------------------------------

HEAD = "COPY t FROM 's3://b-1/m.json' IAM_ROLE default MANIFEST "


@pytest.mark.parametrize(
    ("tail", "caught"),
    [
        ("DATEFORMAT 'AUTO'", "DATEFORMAT"),
        ("TIMEFORMAT AS 'EPOCHSECS'", "TIMEFORMAT"),
        ("DATEFORMAT 'epochsecs'", "DATEFORMAT"),
        ("TIMEFORMAT 'YYYY-MM-DD HH:MI:SSOF'", "time zone"),
        ("NULL AS '\\n'", "NULL AS"),
        ("FIXEDWIDTH 'a:1' ENCODING AS UTF16", "UTF-8"),
        ("FORMAT AS PARQUET ACCEPTANYDATE", "columnar"),
        ("FORMAT AS ORC MAXERROR 3", "columnar"),
        ("COMPROWS 500", "COMPROWS"),
        ("MAXERROR 100001", "MAXERROR"),
        ("FORMAT AS JSON 'auto' DELIMITER ','", "JSON"),
        ("FORMAT AS JSON 'auto' NULL AS 'x'", "JSON"),
        ("FORMAT AS CSV ESCAPE", "CSV"),
        ("READRATIO 50", "Amazon S3"),
        ("SSH", "Amazon S3"),
        ("FORMAT AS CSV FORMAT AS JSON 'auto'", "second data format"),
        ("SHAPEFILE FORMAT AS CSV", "second data format"),
        ("FORMAT AS CSV SERIALIZETOJSON", "SERIALIZETOJSON"),
        ("FORMAT AS PARQUET STATUPDATE ON SERIALIZETOJSON", "SERIALIZETOJSON"),
        ("DROP TABLE x", "DROP"),
        ("GZIP GZIP", "twice"),
        ("IGNOREALLERRORS MAXERROR 5", "IGNOREALLERRORS"),
        ("FORMAT AS JSON 'Auto'", "JSON option"),
        ("FORMAT AS CSV QUOTE AS '|' DELIMITER AS '|'", "QUOTE"),
        ("DELIMITER AS '\\\\' ESCAPE", "ESCAPE"),
        ("REGION 'eu-west-\u0661'", "REGION"),
        ("ENCRYPTED", "MASTER_SYMMETRIC_KEY"),
    ],
)
def test_the_checker_catches_documented_mistakes(tail: str, caught: str) -> None:
    problems = check_copy(HEAD + tail)
    assert any(caught in p for p in problems), problems


@pytest.mark.parametrize(
    "sql",
    [
        # r_COPY_command_examples.html (account ids shortened to 12 digits)
        f"copy venue from 's3://mybucket/data/venue_fw.txt' iam_role '{ROLE}' "
        "fixedwidth 'venueid:3,venuename:25,venuecity:12,venuestate:2,venueseats:6'",
        f"copy category from 's3://mybucket/data/category_csv.txt' iam_role '{ROLE}' "
        "csv quote as '%'",
        f"copy event from 's3://mybucket/data/allevents_pipe.txt' iam_role '{ROLE}' "
        "removequotes emptyasnull blanksasnull maxerror 5 delimiter '|' "
        "timeformat 'YYYY-MM-DD HH:MI:SS'",
        f"copy listing from 's3://mybucket/data/listings/parquet/' iam_role '{ROLE}' "
        "format as parquet",
        f"copy time from 's3://mybucket/data/timerows.gz' iam_role '{ROLE}' gzip delimiter '|'",
        # ingest-super.html
        f"COPY region_nations FROM 's3://redshift-downloads/x' IAM_ROLE '{ROLE}' "
        "FORMAT PARQUET SERIALIZETOJSON",
        f"COPY t FROM 's3://b-1/x' IAM_ROLE '{ROLE}' FORMAT JSON 'noshred'",
        # copy-parameters-data-format.html, JSON: IGNOREHEADER and EMPTYASNULL apply.
        HEAD + "FORMAT AS JSON 'auto' IGNOREHEADER 1 EMPTYASNULL",
        'COPY "my.table" ("a b", "C") FROM \'s3://b-1/x\' IAM_ROLE default DELIMITER \'|~|\'',
    ],
)
def test_the_checker_accepts_documented_statements(sql: str) -> None:
    assert check_copy(sql) == []


# --- the matrix -------------------------------------------------------------------------------

FORMATS: list[dict[str, Any]] = [
    {"type": "csv"},
    {"type": "csv", "delimiter": "\t", "quote_char": "'", "ignore_header_rows": 1},
    {"type": "csv", "delimiter": "|~|"},
    {"type": "csv", "delimiter": "\\302\\246"},
    {"type": "csv", "delimiter": '"'},
    {"type": "delimited"},
    {"type": "delimited", "delimiter": "\\", "escape": True},
    {"type": "delimited", "delimiter": ";", "escape": True, "remove_quotes": True},
    {"type": "delimited", "delimiter": "::", "ignore_header_rows": 2},
    {"type": "json"},
    {"type": "json", "mode": "auto_ignorecase", "ignore_header_rows": 1},
    {"type": "json", "mode": "noshred"},
    {"type": "json", "mode": "jsonpaths", "jsonpaths_url": "s3://paths-1/p.json"},
    {"type": "avro"},
    {"type": "avro", "mode": "noshred"},
    {"type": "avro", "ignore_header_rows": 1},
    {"type": "parquet"},
    {"type": "parquet", "serialize_to_json": True},
    {"type": "orc", "serialize_to_json": True},
    {"type": "fixedwidth", "columns": ["id:4", "name:20"]},
    {"type": "fixedwidth", "columns": ["a:1"], "ignore_header_rows": 1},
]
OPTIONS: list[dict[str, Any]] = [
    {},
    {"compression": "gzip", "max_error": 10},
    {"compression": "ZSTD", "comp_update": "preset", "stat_update": False},
    {"date_format": "AUTO", "time_format": "EPOCHMILLISECS"},
    {"date_format": "Auto", "time_format": "Auto"},
    {"date_format": "YYYY-MM-DD", "time_format": "YYYY-MM-DD HH:MI:SS"},
    {"date_format": "epochsecs"},
    {"time_format": "YYYY-MM-DD HH:MI:SS TZ"},
    {"null_as": "\\N", "empty_as_null": True, "blanks_as_null": True},
    {"null_as": "NULL\n"},
    {"null_as": ""},
    {"accept_inv_chars": True, "fill_record": True, "explicit_ids": True, "stat_update": True},
    {"accept_inv_chars": "^", "truncate_columns": True, "trim_blanks": True},
    {"ignore_blank_lines": True, "round_dec": True},
    {"encoding": "utf16le"},
    {"encoding": "UTF8"},
    {"region": "eu-west-1"},
    {"region": "eu-west-\u0661"},
    {"max_error": 100_000, "extra_options": "IGNOREALLERRORS"},
    {"extra_options": "ACCEPTANYDATE COMPROWS 1000"},
    {"extra_options": "compupdate off"},
    {"extra_options": "COMPROWS 500"},
    {"extra_options": "READRATIO 50"},
    {"extra_options": "SHAPEFILE"},
    {"extra_options": "SERIALIZETOJSON"},
    {"extra_options": "DROP TABLE t"},
    {"extra_options": "IGNOREALLERRORS"},
    {"encrypted": True, "encrypted_master_symmetric_key": "a2V5"},
]
TABLES = ["events", "raw.events", '"my.table"', 's."odd ""name"""', "Sales.Daily"]
COLUMNS: list[list[str] | None] = [None, ["id", "Name"], [" a", "b c", 'q"uote'], ["Id", "id"]]
AUTHS: list[dict[str, Any]] = [
    {},
    {"iam_roles": [ROLE, "arn:aws:iam::123456789012:role/path/Second"]},
    {"access_key_id": "AKIAIOSFODNN7EXAMPLE", "encrypted_secret_access_key": "eA=="},
    {"lambda_credentials": True},
]


def _options(fmt: dict[str, Any], extra: dict[str, Any]) -> CopyOptions | None:
    try:
        return CopyOptions(format=fmt, **extra)
    except ValidationError:
        return None


def _target(table: str, columns: list[str] | None, merge: bool, auth: dict[str, Any]) -> Any:
    raw: dict[str, Any] = {
        "type": "redshift",
        "name": "wh",
        "table": table,
        "host": "h",
        "cluster_identifier": "c",
        "columns": columns,
        "copy_authorization": auth,
    }
    if merge:
        raw["merge"] = {"key_columns": [(columns or ["id"])[0]]}
    try:
        return TARGETS.validate_python(raw)
    except ValidationError:
        return None


def _secrets(options: CopyOptions, auth: dict[str, Any]) -> CopySecrets:
    master = "bWFzdGVy" if options.encrypted else None
    if auth.get("access_key_id"):
        return CopySecrets(secret_access_key="sk/+x", master_symmetric_key=master)
    if auth.get("lambda_credentials"):
        return CopySecrets("ASIAIOSFODNN7EXAMPLE", "sk", "token'x", master_symmetric_key=master)
    return CopySecrets(master_symmetric_key=master)


def _statements(options: CopyOptions, target: Any, auth: dict[str, Any]) -> list[str]:
    """The COPY of the real load script (into the table, or the merge's staging table)."""
    secrets = _secrets(options, auth)
    script = build_script(
        target,
        ENTRY,
        dialect=Dialect.REDSHIFT,
        timeout_ms=60_000,
        copy_into=lambda table: build_copy(
            table,
            target.columns,
            ENTRY.manifest_url,
            options,
            target.copy_authorization,
            secrets=secrets,
        ),
    )
    return [step.sql for step in script.steps if step.kind is StepKind.COPY]


def _violations(options: CopyOptions, target: Any, auth: dict[str, Any]) -> list[str]:
    found = []
    for sql in _statements(options, target, auth):
        found += [f"{p}\n    in {sql}" for p in check_copy(sql)]
    return found


def test_every_accepted_configuration_of_the_matrix_builds_documented_copy_text() -> None:
    # GIVEN every format against every option set, table, column list and merge, with each
    # authorization in turn
    built, refused, violations = 0, 0, []
    for fmt, extra in itertools.product(FORMATS, OPTIONS):
        options = _options(fmt, extra)
        if options is None:
            refused += 1
            continue
        shapes = itertools.product(TABLES, COLUMNS, [False, True])
        for index, (table, columns, merge) in enumerate(shapes):
            auth = AUTHS[index % len(AUTHS)]  # each authorization in turn
            target = _target(table, columns, merge=merge, auth=auth)
            if target is None:
                refused += 1
                continue
            violations += _violations(options, target, auth)
            built += 1

    # THEN nothing the models accept breaks a documented rule
    print(f"\ngrammar matrix: {built} statements built and checked, {refused} refused")
    assert violations == []
    assert built >= 5_000
    assert refused >= 100


@pytest.mark.parametrize(
    ("table", "parts"),
    [
        ("events", ["events"]),
        ("raw.events", ["raw", "events"]),
        ('"my.table"', ["my.table"]),
        ('s."odd ""name"""', ["s", 'odd "name"']),
        ("Sales.Daily", ["Sales", "Daily"]),
    ],
)
def test_the_statement_names_the_table_meant(table: str, parts: list[str]) -> None:
    sql = build_copy(table, [" a"], ENTRY.manifest_url, CopyOptions(), _target_auth())
    statement = parse(sql)
    assert statement.table == parts
    assert statement.columns == [" a"]


def _target_auth() -> Any:
    return TARGETS.validate_python(
        {"type": "redshift", "name": "wh", "table": "t", "host": "h", "cluster_identifier": "c"}
    ).copy_authorization


# --- and drawn at random ----------------------------------------------------------------------

_pick = st.sampled_from
formats = st.one_of(
    st.fixed_dictionaries(
        {"type": st.just("csv")},
        optional={
            "delimiter": _pick([",", "\t", "\\t", "|~|", "\\001", "é", '"', "a\nb", "\\377"]),
            "quote_char": _pick(['"', "'", "%", "ab"]),
            "ignore_header_rows": st.integers(-1, 3),
        },
    ),
    st.fixed_dictionaries(
        {"type": st.just("delimited")},
        optional={
            "delimiter": _pick(["|", "\\", ";;", "\\t", "\x01"]),
            "escape": st.booleans(),
            "remove_quotes": st.booleans(),
            "ignore_header_rows": st.integers(0, 2),
        },
    ),
    st.fixed_dictionaries(
        {"type": _pick(["json", "avro"])},
        optional={
            "mode": _pick(["auto", "auto_ignorecase", "noshred", "jsonpaths", "AUTO"]),
            "jsonpaths_url": _pick(["s3://paths-1/p.json", "http://x"]),
            "ignore_header_rows": st.integers(0, 2),
        },
    ),
    st.fixed_dictionaries(
        {"type": _pick(["parquet", "orc"])}, optional={"serialize_to_json": st.booleans()}
    ),
    st.fixed_dictionaries(
        {
            "type": st.just("fixedwidth"),
            "columns": st.lists(_pick(["a:1", "b_2:30", "c:0", "bad label:3"]), min_size=1),
        }
    ),
)
WORDS = ["ACCEPTANYDATE", "COMPROWS", "1000", "500", "IGNOREALLERRORS", "NOLOAD", "READRATIO"]
WORDS += ["SSH", "SERIALIZETOJSON", "SHAPEFILE", "FOO", "GZIP", "TRUNCATECOLUMNS", "'x'", "DROP"]
words = _pick(WORDS)
conversions = st.fixed_dictionaries(
    {},
    optional={
        "compression": _pick(["none", "gzip", "bzip2", "lzop", "zstd"]),
        "date_format": _pick(["auto", "AUTO", "YYYY-MM-DD", "MM/DD/YYYY", "epochsecs"]),
        "time_format": _pick(["auto", "Auto", "epochsecs", "EPOCHMILLISECS", "HH:MI:SS"]),
        "null_as": _pick(["\\N", "", "NULL", "a\nb", " "]),
        "empty_as_null": st.booleans(),
        "blanks_as_null": st.booleans(),
        "accept_inv_chars": st.one_of(st.booleans(), _pick(["?", "^", "é"])),
        "truncate_columns": st.booleans(),
        "trim_blanks": st.booleans(),
        "fill_record": st.booleans(),
        "ignore_blank_lines": st.booleans(),
        "max_error": st.integers(-1, 100_001),
        "comp_update": _pick(["on", "off", "preset", None]),
        "stat_update": _pick([True, False, None]),
        "region": _pick(["us-east-1", "eu-west-\u0661", "EU-WEST-1"]),
        "encoding": _pick(["utf8", "utf16", "UTF16BE"]),
        "round_dec": st.booleans(),
        "explicit_ids": st.booleans(),
        "extra_options": st.lists(words, max_size=4).map(" ".join),
    },
)
names = _pick(["id", "Id", "ID", " a", "b\tc", "näme", 'q"t', "x" * 128])


@settings(max_examples=400, suppress_health_check=[HealthCheck.too_slow], deadline=None)
@given(
    fmt=formats,
    extra=conversions,
    table=_pick([*TABLES, '"open', "a.b.c", "t\n"]),
    columns=st.one_of(st.none(), st.lists(names, min_size=1, max_size=3)),
    merge=st.booleans(),
    auth=_pick(AUTHS),
)
def test_every_accepted_random_configuration_builds_documented_copy_text(
    fmt: dict[str, Any],
    extra: dict[str, Any],
    table: str,
    columns: list[str] | None,
    merge: bool,
    auth: dict[str, Any],
) -> None:
    options = _options(fmt, extra)
    target = _target(table, columns, merge, auth)
    if options is None or target is None:
        event("refused when validated")
        return  # nothing reaches Redshift
    event("built and checked")
    assert _violations(options, target, auth) == []
