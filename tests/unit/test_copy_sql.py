"""Specification of the COPY/upsert/truncate text builders: exact statements, quoting that no value
can escape (checked with a small SQL lexer of our own), and redaction of every secret."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from config.copy_options import CopyOptions
from config.targets import CopyAuthorization
from loader.copy_sql import (
    CopySecrets,
    build_copy,
    build_merge,
    build_truncate,
    quote_ident,
    quote_literal,
    quote_name,
    redact,
)

URL = "s3://manifests-bucket/manifests/p/batch-1.json"
ROLE_A = "arn:aws:iam::123456789012:role/LoadA"
ROLE_B = "arn:aws:iam::123456789012:role/LoadB"
DEFAULT_AUTH = CopyAuthorization()
KEYS_AUTH = CopyAuthorization(
    access_key_id="AKIAIOSFODNN7EXAMPLE", encrypted_secret_access_key="Y2lwaGVy"
)
HEAD = f'COPY "s"."t" FROM \'{URL}\' IAM_ROLE default MANIFEST'
CSV = "FORMAT AS CSV QUOTE AS '\"' DELIMITER AS ','"


def copy(**options: Any) -> str:
    return build_copy("s.t", None, URL, CopyOptions(**options), DEFAULT_AUTH)


# --- a lexer of our own, to judge the builder's output ------------------------------------------


def lex(sql: str, *, backslash_escapes: bool = True) -> list[tuple[str, str]]:
    """(kind, text) tokens: literal, ident, word, number, space, comment or one punctuation char.

    With `backslash_escapes`, a backslash in a literal escapes the next character, as Redshift reads
    it; without, literals are SQL-standard. Unterminated literals or identifiers fail the test.
    """
    tokens, i = [], 0
    while i < len(sql):
        c, start = sql[i], i
        if c in "'\"":
            i += 1
            while True:
                assert i < len(sql), f"unterminated {c} in {sql!r}"
                escaped = backslash_escapes and c == "'" and sql[i] == "\\"
                if escaped or sql[i : i + 2] == c + c:
                    i += 2
                elif sql[i] == c:
                    break
                else:
                    i += 1
            i += 1
            tokens.append(("literal" if c == "'" else "ident", sql[start:i]))
            continue
        if sql.startswith(("--", "/*"), i):
            kind, i = "comment", i + 2
        elif c.isspace():
            kind = "space"
            while i < len(sql) and sql[i].isspace():
                i += 1
        elif c.isalnum() or c == "_":
            kind = "number" if c.isdigit() else "word"
            while i < len(sql) and (sql[i].isalnum() or sql[i] == "_"):
                i += 1
        else:
            kind, i = "punct", i + 1
        tokens.append((kind, sql[start:i]))
    return tokens


def literal_value(token: str) -> str:
    """What Redshift reads from a literal the builder wrote (only \\\\ and '' occur in them)."""
    body, out, i = token[1:-1], [], 0
    while i < len(body):
        out.append(body[i + 1] if body[i] in "\\'" else body[i])
        i += 2 if body[i] in "\\'" else 1
    return "".join(out)


def assert_no_injection(sql: str) -> None:
    """Outside literals and quoted identifiers: no statement end, no comment, only harmless signs;
    and the statement splits the same way whether or not backslashes escape."""
    tokens = lex(sql)
    assert tokens == lex(sql, backslash_escapes=False)
    outside = [text for kind, text in tokens if kind in {"punct", "comment"}]
    assert set(outside) <= {"(", ")", ",", ".", "=", "*"}, outside


# --- quoting ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "quoted"),
    [
        ("events", '"events"'),
        ("raw.events", '"raw"."events"'),
        ('we"ird', '"we""ird"'),
        ('x"; DROP TABLE y; --', '"x""; DROP TABLE y; --"'),
        ("Mixed Case", '"Mixed Case"'),
    ],
)
def test_quote_ident_double_quotes_each_part(name: str, quoted: str) -> None:
    assert quote_ident(name) == quoted


@pytest.mark.parametrize("name", ["", "a..b", "a.b.c", ".t", "a\x00b", "x" * 128, "é" * 64])
def test_quote_ident_refuses_names_redshift_cannot_hold(name: str) -> None:
    with pytest.raises(ValueError):
        quote_ident(name)


@pytest.mark.parametrize(
    ("value", "quoted"),
    [("auto", "'auto'"), ("it's", "'it''s'"), ("\\N", "'\\\\N'"), ("a\\", "'a\\\\'"), ("", "''")],
)
def test_quote_literal_doubles_quotes_and_backslashes(value: str, quoted: str) -> None:
    assert quote_literal(value) == quoted


def test_quote_literal_refuses_nul() -> None:
    with pytest.raises(ValueError, match="NUL"):
        quote_literal("a\x00b")


no_nul = st.text(st.characters(codec="utf-8", exclude_characters="\x00"))


@given(no_nul)
def test_quote_literal_round_trips_and_is_one_token_under_both_readings(value: str) -> None:
    quoted = quote_literal(value)
    assert lex(quoted) == [("literal", quoted)] == lex(quoted, backslash_escapes=False)
    assert literal_value(quoted) == value


@given(
    no_nul.filter(
        lambda s: (
            0 < len(s.encode()) <= 127
            and "." not in s
            and s.isprintable()
            and not s.startswith('"')
        )
    )
)
def test_quote_name_round_trips_as_one_identifier(name: str) -> None:
    quoted = quote_name(name)
    assert lex(quoted) == [("ident", quoted)]
    assert quoted[1:-1].replace('""', '"') == name
    assert quote_ident(f"{name}.{name}") == f"{quoted}.{quoted}"


# --- one statement per format -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("fmt", "clause"),
    [
        ({"type": "csv"}, CSV),
        (
            {"type": "csv", "delimiter": "\t", "quote_char": "'"},
            "FORMAT AS CSV QUOTE AS '''' DELIMITER AS '\t'",
        ),
        ({"type": "csv", "ignore_header_rows": 1}, f"{CSV} IGNOREHEADER 1"),
        ({"type": "delimited"}, "DELIMITER AS '|'"),
        ({"type": "delimited", "delimiter": "\\"}, "DELIMITER AS '\\\\'"),
        (
            {
                "type": "delimited",
                "delimiter": ",",
                "escape": True,
                "remove_quotes": True,
                "ignore_header_rows": 2,
            },
            "DELIMITER AS ',' ESCAPE REMOVEQUOTES IGNOREHEADER 2",
        ),
        ({"type": "json"}, "FORMAT AS JSON 'auto'"),
        ({"type": "json", "mode": "auto_ignorecase"}, "FORMAT AS JSON 'auto ignorecase'"),
        (
            {"type": "json", "mode": "jsonpaths", "jsonpaths_url": "s3://cfg-bucket/it's.json"},
            "FORMAT AS JSON 's3://cfg-bucket/it''s.json'",
        ),
        ({"type": "avro"}, "FORMAT AS AVRO 'auto'"),
        ({"type": "avro", "mode": "auto_ignorecase"}, "FORMAT AS AVRO 'auto ignorecase'"),
        ({"type": "parquet"}, "FORMAT AS PARQUET"),
        ({"type": "orc"}, "FORMAT AS ORC"),
        (
            {"type": "fixedwidth", "columns": ["id:5", "name:20"], "ignore_header_rows": 1},
            "FIXEDWIDTH 'id:5,name:20' IGNOREHEADER 1",
        ),
    ],
)
def test_each_format_gives_its_full_statement(fmt: dict[str, Any], clause: str) -> None:
    assert copy(format=fmt) == f"{HEAD} {clause}"


# --- one option at a time, then all in the documented order -----------------------------------


@pytest.mark.parametrize(
    ("options", "suffix"),
    [
        ({"compression": "gzip"}, "GZIP"),
        ({"compression": "bzip2"}, "BZIP2"),
        ({"compression": "lzop"}, "LZOP"),
        ({"compression": "zstd"}, "ZSTD"),
        ({"encoding": "utf16be"}, "ENCODING AS UTF16BE"),
        ({"accept_inv_chars": True}, "ACCEPTINVCHARS"),
        ({"accept_inv_chars": "'"}, "ACCEPTINVCHARS AS ''''"),
        ({"blanks_as_null": True}, "BLANKSASNULL"),
        ({"date_format": "MM/DD/YYYY"}, "DATEFORMAT AS 'MM/DD/YYYY'"),
        ({"empty_as_null": True}, "EMPTYASNULL"),
        ({"explicit_ids": True}, "EXPLICIT_IDS"),
        ({"fill_record": True}, "FILLRECORD"),
        ({"ignore_blank_lines": True}, "IGNOREBLANKLINES"),
        ({"null_as": "\\N"}, "NULL AS '\\\\N'"),
        ({"null_as": ""}, "NULL AS ''"),
        ({"round_dec": True}, "ROUNDEC"),
        ({"time_format": "epochmillisecs"}, "TIMEFORMAT AS 'epochmillisecs'"),
        ({"trim_blanks": True}, "TRIMBLANKS"),
        ({"truncate_columns": True}, "TRUNCATECOLUMNS"),
        ({"comp_update": "preset"}, "COMPUPDATE PRESET"),
        ({"max_error": 0}, "MAXERROR AS 0"),
        ({"stat_update": True}, "STATUPDATE ON"),
        ({"stat_update": False}, "STATUPDATE OFF"),
        ({"extra_options": "ACCEPTANYDATE COMPROWS 1000"}, "ACCEPTANYDATE COMPROWS 1000"),
    ],
)
def test_each_conversion_option_follows_the_format_clause(
    options: dict[str, Any], suffix: str
) -> None:
    assert copy(**options) == f"{HEAD} {CSV} {suffix}"


def test_region_follows_manifest_and_precedes_the_format() -> None:
    assert copy(region="eu-west-1") == f"{HEAD} REGION AS 'eu-west-1' {CSV}"


def test_all_options_together_come_in_the_documented_order() -> None:
    options = CopyOptions(
        format={"type": "csv", "delimiter": "|", "ignore_header_rows": 1},
        compression="gzip",
        encoding="utf8",
        accept_inv_chars="?",
        blanks_as_null=True,
        date_format="auto",
        empty_as_null=True,
        explicit_ids=True,
        fill_record=True,
        ignore_blank_lines=True,
        null_as="NULL",
        round_dec=True,
        time_format="auto",
        trim_blanks=True,
        truncate_columns=True,
        comp_update="off",
        max_error=10,
        stat_update=False,
        region="us-west-2",
        extra_options="ACCEPTANYDATE",
    )

    sql = build_copy(
        "raw.events", ["id", "payload"], URL, options, CopyAuthorization(iam_roles=[ROLE_A])
    )

    assert sql == (
        f'COPY "raw"."events" ("id","payload") FROM \'{URL}\' IAM_ROLE \'{ROLE_A}\' MANIFEST '
        "REGION AS 'us-west-2' FORMAT AS CSV QUOTE AS '\"' DELIMITER AS '|' IGNOREHEADER 1 GZIP "
        "ENCODING AS UTF8 ACCEPTINVCHARS AS '?' BLANKSASNULL DATEFORMAT AS 'auto' EMPTYASNULL "
        "EXPLICIT_IDS FILLRECORD IGNOREBLANKLINES NULL AS 'NULL' ROUNDEC TIMEFORMAT AS 'auto' "
        "TRIMBLANKS TRUNCATECOLUMNS COMPUPDATE OFF MAXERROR AS 10 STATUPDATE OFF ACCEPTANYDATE"
    )


def test_without_manifest_the_url_is_read_as_a_prefix() -> None:
    sql = build_copy("t", None, "s3://data-bucket/in/", CopyOptions(), DEFAULT_AUTH, manifest=False)
    assert sql == f"COPY \"t\" FROM 's3://data-bucket/in/' IAM_ROLE default {CSV}"


@pytest.mark.parametrize("url", ["https://bucket/key", "s3://", "s3://UPPER/k", "bucket/key"])
def test_source_must_be_an_s3_url(url: str) -> None:
    with pytest.raises(ValueError, match="s3://"):
        build_copy("t", None, url, CopyOptions(), DEFAULT_AUTH)


def test_duplicate_columns_are_refused() -> None:
    with pytest.raises(ValueError, match="duplicate"):
        build_copy("t", ["a", "a"], URL, CopyOptions(), DEFAULT_AUTH)


# --- authorization ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("auth", "secrets", "clause"),
    [
        (DEFAULT_AUTH, None, "IAM_ROLE default"),
        (CopyAuthorization(iam_roles=[ROLE_A]), None, f"IAM_ROLE '{ROLE_A}'"),
        (CopyAuthorization(iam_roles=[ROLE_A, ROLE_B]), None, f"IAM_ROLE '{ROLE_A},{ROLE_B}'"),
        (
            KEYS_AUTH,
            CopySecrets(secret_access_key="wJalr/K7MDENG"),
            "ACCESS_KEY_ID 'AKIAIOSFODNN7EXAMPLE' SECRET_ACCESS_KEY 'wJalr/K7MDENG'",
        ),
        (
            DEFAULT_AUTH,  # the Lambda role's temporary credentials, as the original's default
            CopySecrets(access_key_id="ASIATEMP", secret_access_key="sk", session_token="tok"),
            "ACCESS_KEY_ID 'ASIATEMP' SECRET_ACCESS_KEY 'sk' SESSION_TOKEN 'tok'",
        ),
    ],
)
def test_authorization_clause(
    auth: CopyAuthorization, secrets: CopySecrets | None, clause: str
) -> None:
    sql = build_copy("t", None, URL, CopyOptions(), auth, secrets=secrets)
    assert sql == f"COPY \"t\" FROM '{URL}' {clause} MANIFEST {CSV}"


def test_encrypted_input_names_its_key_before_manifest_and_encrypted() -> None:
    options = CopyOptions(encrypted=True, encrypted_master_symmetric_key="Y2lwaGVy")
    sql = build_copy(
        "t", None, URL, options, DEFAULT_AUTH, secrets=CopySecrets(master_symmetric_key="K3y==")
    )
    assert sql == (
        f"COPY \"t\" FROM '{URL}' IAM_ROLE default MASTER_SYMMETRIC_KEY 'K3y==' "
        f"MANIFEST ENCRYPTED {CSV}"
    )


@pytest.mark.parametrize(
    ("auth", "options", "secrets", "named"),
    [
        (KEYS_AUTH, {}, None, "secret_access_key"),
        (CopyAuthorization(iam_roles=[ROLE_A]), {}, CopySecrets("AKIA", "sk"), "not both"),
        (KEYS_AUTH, {}, CopySecrets("AKIAOTHER", "sk"), "differs"),
        (DEFAULT_AUTH, {}, CopySecrets(secret_access_key="sk"), "access key id"),
        (DEFAULT_AUTH, {}, CopySecrets(session_token="tok"), "access key id"),
        (
            DEFAULT_AUTH,
            {"encrypted": True, "encrypted_master_symmetric_key": "Y2lwaGVy"},
            None,
            "master_symmetric_key",
        ),
        (DEFAULT_AUTH, {}, CopySecrets(master_symmetric_key="K3y=="), "not encrypted"),
    ],
)
def test_inconsistent_authorization_is_refused(
    auth: CopyAuthorization, options: dict[str, Any], secrets: CopySecrets | None, named: str
) -> None:
    with pytest.raises(ValueError, match=named):
        build_copy("t", None, URL, CopyOptions(**options), auth, secrets=secrets)


# --- hostile values cannot inject SQL ---------------------------------------------------------

# fmt: off
HOSTILE = ["'", "''", "\\", "\\'", "';", "; DROP TABLE x; --", "/*", "*/", "--", '"', '""', "\n",
           "$$"]
# fmt: on
hostile = st.lists(
    st.one_of(st.sampled_from(HOSTILE), no_nul.filter(lambda s: len(s) < 5)), max_size=6
).map("".join)
# Valid by construction (filters would starve Hypothesis): printable (r_names.html), no dot in a
# name part and no leading quote (that makes it a quoted part), at most 30 characters (127 bytes);
# date and time formats printable.
names = hostile.map(
    lambda s: (
        "".join(c for c in s if c.isprintable()).replace(".", "\u00b7")[:30].lstrip('"') or "x"
    )
)
printable = hostile.map(lambda s: "".join(c for c in s if c.isprintable())[:128] or "auto")
one_char = st.characters(codec="utf-8", exclude_characters="\x00\n\r")


@settings(max_examples=200)
@given(
    st.fixed_dictionaries(
        {
            "schema": names,
            "table": names,
            # Redshift folds ASCII letters: `A` and `a` are one column.
            "columns": st.lists(names, max_size=3, unique_by=str.lower),
            # NULL AS never holds a newline (Redshift reserves it as the line end).
            "null_as": hostile.map(lambda s: s.replace("\n", "\\n")),
            "date_format": printable,
            # a time format never names a time zone (TZ, tz, OF): no Z, z or F
            "time_format": printable.map(
                lambda s: s.translate(dict.fromkeys(map(ord, "ZzF"))) or "HH"
            ),
            "delimiter": one_char,
            "key": printable,
            "role": hostile,
            "secret": hostile.map(lambda s: s or "x"),
        }
    )
)
def test_no_value_escapes_its_quotes(v: dict[str, Any]) -> None:
    # GIVEN hostile text in every value that reaches the statement
    table, columns, url = f"{v['schema']}.{v['table']}", v["columns"], f"s3://b-1/{v['key']}"
    text = CopyOptions(
        format={"type": "delimited", "delimiter": v["delimiter"]},
        null_as=v["null_as"],
        date_format=v["date_format"],
        time_format=v["time_format"],
    )
    paths = CopyOptions(format={"type": "json", "mode": "jsonpaths", "jsonpaths_url": url})
    roles = CopyAuthorization.model_construct(iam_roles=[v["role"]], access_key_id=None)
    keys = CopySecrets(v["secret"], v["secret"], v["secret"])

    # WHEN statements are built
    statements = [
        build_copy(table, columns, URL, text, roles),
        build_copy(v["table"], None, url, paths, DEFAULT_AUTH, secrets=keys),
        *build_merge(table, f"{v['table']}_stage", columns or [v["table"]], columns),
    ]

    # THEN each value sits whole inside its own literal or identifier
    for sql in statements:
        assert_no_injection(sql)
    tokens = lex(statements[0])
    literals = [literal_value(text) for kind, text in tokens if kind == "literal"]
    idents = [text[1:-1].replace('""', '"') for kind, text in tokens if kind == "ident"]
    expected = ["role", "delimiter", "date_format", "null_as", "time_format"]
    assert literals == [URL, *(v[name] for name in expected)]
    assert idents == [v["schema"], v["table"], *columns]


@given(
    st.lists(
        st.sampled_from(["ACCEPTANYDATE", "COMPROWS", "10", "'x'", "'a''b'", *HOSTILE, "IAM_ROLE"]),
        max_size=6,
    )
)
def test_extra_options_are_either_refused_or_harmless(words: list[str]) -> None:
    try:
        options = CopyOptions(extra_options=" ".join(words))
    except ValueError:
        return
    assert_no_injection(build_copy("t", None, URL, options, DEFAULT_AUTH))


def test_an_unvalidated_hostile_role_stays_inside_its_literal() -> None:
    role = "arn:aws:iam::1:role/x' ; DROP TABLE t; --"
    with pytest.raises(ValueError):
        CopyAuthorization(iam_roles=[role])
    sql = build_copy(
        "t", None, URL, CopyOptions(), CopyAuthorization.model_construct(iam_roles=[role])
    )
    assert "IAM_ROLE 'arn:aws:iam::1:role/x'' ; DROP TABLE t; --'" in sql
    assert_no_injection(sql)


# --- redaction --------------------------------------------------------------------------------


@given(
    key_id=hostile.map(lambda s: "AKIA" + s),
    secret=hostile.map(lambda s: "SEKRIT" + s),
    token=hostile.map(lambda s: "T0KEN" + s),
    master=hostile.map(lambda s: "MASTR" + s),
)
def test_redact_masks_every_secret_value(key_id: str, secret: str, token: str, master: str) -> None:
    # GIVEN a statement carrying every kind of secret
    options = CopyOptions(encrypted=True, encrypted_master_symmetric_key="Y2lwaGVy")
    secrets = CopySecrets(key_id, secret, token, master)
    sql = build_copy("t", None, URL, options, DEFAULT_AUTH, secrets=secrets)

    # WHEN redacted, by keyword alone and with the values known
    for shown in (redact(sql), redact(sql, secrets=secrets)):
        # THEN no secret survives, and the rest of the statement does
        for value in (key_id, secret, token, master):
            assert quote_literal(value) not in shown
        assert shown.count("'***'") == 4
        assert shown.endswith(f"MANIFEST ENCRYPTED {CSV}")


def test_redact_masks_an_original_style_credentials_string() -> None:
    sql = (
        "copy t from 's3://b/m' with credentials as "
        "'aws_access_key_id=AKIAX;aws_secret_access_key=SK/x+y;token=TOK;master_symmetric_key=MK' "
        "manifest"
    )
    assert redact(sql) == "copy t from 's3://b/m' with credentials as '***' manifest"


def test_redact_masks_credential_pairs_in_any_literal() -> None:
    text = "error in 'aws_secret_access_key=S''K\\'x;token=TOK' near here"
    assert redact(text) == "error in 'aws_secret_access_key=***;token=***' near here"


def test_redact_masks_known_values_anywhere_in_the_text() -> None:
    secrets = CopySecrets(secret_access_key="wJalr/K7MDENG")
    assert redact("S3 refused key wJalr/K7MDENG", secrets=secrets) == "S3 refused key ***"


def test_redact_leaves_statements_without_secrets_unchanged() -> None:
    sql = build_copy(
        "s.t", ["a"], URL, CopyOptions(null_as="it's"), CopyAuthorization(iam_roles=[ROLE_A])
    )
    assert redact(sql) == sql


def test_secrets_never_appear_in_their_repr() -> None:
    assert "sk-value" not in repr(CopySecrets("AKIA", "sk-value", "tok-value", "mk-value"))


# --- upsert and truncate ----------------------------------------------------------------------


def test_merge_stages_deletes_matches_and_inserts_the_listed_columns() -> None:
    statements = build_merge("raw.events", "events_stage", ["id", "day"], ["id", "day", "v"])
    assert statements == [
        'CREATE TEMP TABLE "events_stage" (LIKE "raw"."events")',
        'DELETE FROM "raw"."events" USING "events_stage" WHERE '
        '"raw"."events"."id" = "events_stage"."id" AND "raw"."events"."day" = "events_stage"."day"',
        'INSERT INTO "raw"."events" ("id","day","v") SELECT "id","day","v" FROM "events_stage"',
        'DROP TABLE "events_stage"',
    ]


def test_merge_without_a_column_list_copies_every_column() -> None:
    assert build_merge("t", "stage", ["id"], None)[2] == 'INSERT INTO "t" SELECT * FROM "stage"'


@pytest.mark.parametrize(
    ("keys", "columns", "named"),
    [
        ([], None, "key column"),
        (["id", "id"], None, "duplicate"),
        (["id"], ["v"], "not in the column"),
    ],
)
def test_merge_refuses_keys_it_cannot_match(
    keys: list[str], columns: list[str] | None, named: str
) -> None:
    with pytest.raises(ValueError, match=named):
        build_merge("t", "stage", keys, columns)


def test_merge_refuses_a_staging_table_named_like_the_target() -> None:
    # Both would be "events" in the DELETE ... USING, an ambiguous reference
    with pytest.raises(ValueError, match="staging table"):
        build_merge("raw.events", "events", ["id"], None)


def test_truncate_inside_a_transaction_is_a_delete_because_redshift_truncate_commits() -> None:
    assert build_truncate("raw.events") == 'DELETE FROM "raw"."events"'
    assert build_truncate("raw.events", in_transaction=False) == 'TRUNCATE TABLE "raw"."events"'
