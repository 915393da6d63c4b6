"""COPY formats and data-conversion options, checked on the rows PostgreSQL really stored."""

from __future__ import annotations

import bz2
import datetime as dt
import gzip
import json
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import psycopg2
import pytest
import zstandard

from redshift_standin import StandIn

Put = Callable[[str, bytes | str], str]


def rows_of(standin: StandIn, table: str) -> list[tuple[Any, ...]]:
    with psycopg2.connect(standin.dsn()) as conn, conn.cursor() as cur:
        cur.execute(f"SELECT * FROM {table} ORDER BY 1")
        return cur.fetchall()


def copy_and_fetch(
    standin: StandIn, table: str, copy_sql: str
) -> tuple[int, list[tuple[Any, ...]]]:
    """Run the COPY through the stand-in and commit; return (rowcount, rows ordered by col 1)."""
    with psycopg2.connect(standin.dsn()) as conn, conn.cursor() as cur:
        cur.execute(copy_sql)
        count = cur.rowcount
    return count, rows_of(standin, table)


def test_csv_with_header_delimiter_and_quote(
    redshift_standin: StandIn, make_table: Callable, put_s3_object: Put
) -> None:
    # GIVEN a ';'-delimited CSV with a header, a quoted delimiter, doubled quotes and a newline
    table = make_table("id int, name varchar(20), note varchar(20)")
    url = put_s3_object("in/a.csv", 'id;name;note\n1;"a;b";"say ""hi"""\n2;plain;"two\nlines"\n')

    # WHEN it is copied
    count, rows = copy_and_fetch(
        redshift_standin,
        table,
        f"COPY {table} FROM '{url}' IAM_ROLE default FORMAT AS CSV DELIMITER ';' IGNOREHEADER 1",
    )

    # THEN every field arrives intact
    assert count == 2
    assert rows == [(1, "a;b", 'say "hi"'), (2, "plain", "two\nlines")]


def test_csv_custom_quote_character(
    redshift_standin: StandIn, make_table: Callable, put_s3_object: Put
) -> None:
    table = make_table("id int, name varchar(20)")
    url = put_s3_object("q.csv", "1,'x,y'\n2,'it''s'\n")

    _, rows = copy_and_fetch(
        redshift_standin, table, f"copy {table} from '{url}' iam_role default csv quote as ''''"
    )

    assert rows == [(1, "x,y"), (2, "it's")]


@pytest.mark.parametrize(
    ("option", "compress"),
    [
        ("GZIP", gzip.compress),
        ("BZIP2", bz2.compress),
        ("ZSTD", lambda data: zstandard.ZstdCompressor().compress(data)),
    ],
)
def test_compressed_csv(
    redshift_standin: StandIn,
    make_table: Callable,
    put_s3_object: Put,
    option: str,
    compress: Callable[[bytes], bytes],
) -> None:
    table = make_table("id int, name varchar(20)")
    body = "".join(f"{i},name-{i}\n" for i in range(1, 1001)).encode()
    url = put_s3_object(f"data.csv.{option.lower()}", compress(body))

    count, rows = copy_and_fetch(
        redshift_standin, table, f"COPY {table} FROM '{url}' IAM_ROLE default CSV {option}"
    )

    assert count == 1000
    assert rows[0] == (1, "name-1")
    assert rows[-1] == (1000, "name-1000")


def test_gzip_without_gzip_option_fails_like_redshift(
    redshift_standin: StandIn, make_table: Callable, put_s3_object: Put
) -> None:
    table = make_table("id int, name varchar(20)")
    url = put_s3_object("data.csv.gz", gzip.compress(b"1,a\n"))

    with pytest.raises(psycopg2.Error) as failure:
        copy_and_fetch(redshift_standin, table, f"COPY {table} FROM '{url}' IAM_ROLE default CSV")

    assert failure.value.pgcode == "XX000"


def test_plain_text_pipe_delimited_with_default_null(
    redshift_standin: StandIn, make_table: Callable, put_s3_object: Put
) -> None:
    table = make_table("id int, name varchar(20), amount numeric(10,2)")
    url = put_s3_object("t.txt", "1|alice|12.345\n2|\\N|\n3||7\n")

    _, rows = copy_and_fetch(redshift_standin, table, f"COPY {table} FROM '{url}' IAM_ROLE default")

    # \N is NULL; an empty numeric is NULL; an empty varchar stays ''; 12.345 is truncated
    assert rows == [(1, "alice", Decimal("12.34")), (2, None, None), (3, "", Decimal("7.00"))]


def test_escape_and_removequotes_in_text_mode(
    redshift_standin: StandIn, make_table: Callable, put_s3_object: Put
) -> None:
    table = make_table("id int, name varchar(20)")
    url = put_s3_object("e.txt", '1,"a,b"\n2,c\\,d\n')

    _, rows = copy_and_fetch(
        redshift_standin,
        table,
        f"COPY {table} FROM '{url}' IAM_ROLE default DELIMITER ',' REMOVEQUOTES ESCAPE",
    )

    assert rows == [(1, "a,b"), (2, "c,d")]


@pytest.mark.parametrize(
    ("options", "expected"),
    [
        # columns: null marker, empty, blank, blank int (always NULL), \N (default null)
        ("", (1, "NULL", "", "   ", None, None)),
        ("NULL AS 'NULL'", (1, None, "", "   ", None, "\\N")),
        ("EMPTYASNULL", (1, "NULL", None, "   ", None, None)),
        ("BLANKSASNULL", (1, "NULL", "", None, None, None)),
        ("NULL AS 'NULL' EMPTYASNULL BLANKSASNULL", (1, None, None, None, None, "\\N")),
    ],
)
def test_null_as_emptyasnull_blanksasnull(
    redshift_standin: StandIn,
    make_table: Callable,
    put_s3_object: Put,
    options: str,
    expected: tuple[Any, ...],
) -> None:
    # GIVEN fields that are a custom null marker, empty, blank and the default \N
    table = make_table("id int, a varchar(10), b varchar(10), c varchar(10), d int, e varchar(5)")
    url = put_s3_object("n.csv", "1,NULL,,   , ,\\N\n")

    # WHEN they are loaded with the given null options
    _, rows = copy_and_fetch(
        redshift_standin, table, f"COPY {table} FROM '{url}' IAM_ROLE default CSV {options}"
    )

    # THEN exactly the fields those options name become NULL
    assert rows == [expected]


def test_without_emptyasnull_empty_varchar_is_empty_string(
    redshift_standin: StandIn, make_table: Callable, put_s3_object: Put
) -> None:
    table = make_table("id int, a varchar(10), b date")
    url = put_s3_object("e.csv", "1,,\n")

    _, rows = copy_and_fetch(redshift_standin, table, f"COPY {table} FROM '{url}' CSV")

    assert rows == [(1, "", None)]


def test_dateformat_and_timeformat(
    redshift_standin: StandIn, make_table: Callable, put_s3_object: Put
) -> None:
    table = make_table("id int, d date, ts timestamp")
    url = put_s3_object(
        "d.csv", "1,31/12/2024,2024-12-31 23:59:58\n2,01/02/2023,2023-02-01 00:00:01\n"
    )

    _, rows = copy_and_fetch(
        redshift_standin,
        table,
        f"COPY {table} FROM '{url}' CSV DATEFORMAT 'DD/MM/YYYY' TIMEFORMAT 'YYYY-MM-DD HH24:MI:SS'",
    )

    assert rows == [
        (1, dt.date(2024, 12, 31), dt.datetime(2024, 12, 31, 23, 59, 58)),
        (2, dt.date(2023, 2, 1), dt.datetime(2023, 2, 1, 0, 0, 1)),
    ]


@pytest.mark.parametrize(
    ("timeformat", "value"), [("epochsecs", "1700000000"), ("epochmillisecs", "1700000000000")]
)
def test_epoch_timeformats(
    redshift_standin: StandIn, make_table: Callable, put_s3_object: Put, timeformat: str, value: str
) -> None:
    table = make_table("id int, ts timestamp")
    url = put_s3_object("e.csv", f"1,{value}\n")

    _, rows = copy_and_fetch(
        redshift_standin, table, f"COPY {table} FROM '{url}' CSV TIMEFORMAT '{timeformat}'"
    )

    assert rows == [(1, dt.datetime(2023, 11, 14, 22, 13, 20))]


def test_dateformat_auto(
    redshift_standin: StandIn, make_table: Callable, put_s3_object: Put
) -> None:
    table = make_table("id int, d date")
    url = put_s3_object("a.csv", '1,2024-03-04\n2,03/05/2024\n3,"Mar 6, 2024"\n')

    _, rows = copy_and_fetch(
        redshift_standin, table, f"COPY {table} FROM '{url}' CSV DATEFORMAT 'auto'"
    )

    assert [r[1] for r in rows] == [dt.date(2024, 3, 4), dt.date(2024, 3, 5), dt.date(2024, 3, 6)]


def test_truncatecolumns_trimblanks_fillrecord_acceptinvchars(
    redshift_standin: StandIn, make_table: Callable, put_s3_object: Put
) -> None:
    table = make_table("id int, short varchar(3), padded varchar(10), extra varchar(5), n int")
    url = put_s3_object("o.txt", b"1|abcdef|keep   |ok|5\n2|\xff\xfeab|x\n")

    _, rows = copy_and_fetch(
        redshift_standin,
        table,
        f"COPY {table} FROM '{url}' DELIMITER '|' TRUNCATECOLUMNS TRIMBLANKS FILLRECORD "
        "ACCEPTINVCHARS AS '^'",
    )

    # varchar(3) counts bytes: '^^a' fits, 'abcdef' is cut; FILLRECORD adds '' and NULL
    assert rows == [(1, "abc", "keep", "ok", 5), (2, "^^a", "x", "", None)]


def test_json_auto_and_ignorecase(
    redshift_standin: StandIn, make_table: Callable, put_s3_object: Put
) -> None:
    table = make_table("id int, name varchar(20), tags varchar(50), ok boolean")
    body = '{"id": 1, "name": "a", "tags": ["x", "y"], "ok": true}\n{"ID": 2, "Name": "b"}\n'
    url = put_s3_object("j.json", body)

    _, auto_rows = copy_and_fetch(
        redshift_standin, table, f"COPY {table} FROM '{url}' FORMAT AS JSON 'auto'"
    )
    assert auto_rows == [(1, "a", '["x","y"]', True), (None, None, None, None)]

    table2 = make_table("id int, name varchar(20), tags varchar(50), ok boolean")
    _, rows = copy_and_fetch(
        redshift_standin, table2, f"COPY {table2} FROM '{url}' JSON 'auto ignorecase'"
    )
    assert rows == [(1, "a", '["x","y"]', True), (2, "b", None, None)]


def test_json_with_jsonpaths(
    redshift_standin: StandIn, make_table: Callable, put_s3_object: Put
) -> None:
    table = make_table("id int, city varchar(20), first_tag varchar(10), amount numeric(8,2)")
    paths = put_s3_object(
        "paths.json",
        json.dumps({"jsonpaths": ["$.id", "$.address.city", "$['tags'][0]", "$.amount"]}),
    )
    url = put_s3_object(
        "j.json",
        '{"id": 7, "address": {"city": "Oslo"}, "tags": ["a", "b"],'
        ' "amount": 12.5}\n{"id": 8,\n "tags": ["c"]}\n',
    )

    _, rows = copy_and_fetch(
        redshift_standin, table, f"COPY {table} FROM '{url}' IAM_ROLE default JSON '{paths}'"
    )

    # a missing object member loads NULL (a missing array element fails: tests/fidelity)
    assert rows == [(7, "Oslo", "a", Decimal("12.50")), (8, None, "c", None)]


def test_fixedwidth(redshift_standin: StandIn, make_table: Callable, put_s3_object: Put) -> None:
    table = make_table("id int, name varchar(10)")
    url = put_s3_object("f.txt", "0001alice     \n0002bob       \n")

    _, rows = copy_and_fetch(
        redshift_standin, table, f"COPY {table} FROM '{url}' FIXEDWIDTH 'id:4,name:10' TRIMBLANKS"
    )

    assert rows == [(1, "alice"), (2, "bob")]


def test_manifest_with_several_files(
    redshift_standin: StandIn, make_table: Callable, put_s3_object: Put, s3_bucket: str
) -> None:
    # GIVEN three data files, one gzipped list of entries and an optional missing file
    table = make_table("id int, src varchar(10)")
    urls = [
        put_s3_object(f"d/{n}.csv.gz", gzip.compress(f"{n}1,f{n}\n{n}2,f{n}\n".encode()))
        for n in (1, 2, 3)
    ]
    entries = [{"url": u, "mandatory": True, "meta": {"content_length": 10}} for u in urls]
    entries.append({"url": f"s3://{s3_bucket}/d/missing.csv.gz", "mandatory": False})
    manifest = put_s3_object("m/batch.manifest", json.dumps({"entries": entries}))

    # WHEN the manifest is copied
    count, rows = copy_and_fetch(
        redshift_standin,
        table,
        f"COPY {table} FROM '{manifest}' IAM_ROLE default MANIFEST CSV GZIP",
    )

    # THEN all rows of the three files are there, and stl_load_commits lists each file once
    assert count == 6
    assert [r[0] for r in rows] == [11, 12, 21, 22, 31, 32]
    with psycopg2.connect(redshift_standin.dsn()) as conn, conn.cursor() as cur:
        cur.execute(
            "SELECT filename, lines_scanned FROM stl_load_commits WHERE filename LIKE %s"
            " ORDER BY filename",
            (f"s3://{s3_bucket}/%",),
        )
        assert cur.fetchall() == [(u, 2) for u in urls]


def test_missing_mandatory_manifest_entry_fails(
    redshift_standin: StandIn, make_table: Callable, put_s3_object: Put, s3_bucket: str
) -> None:
    table = make_table("id int")
    ok = put_s3_object("ok.csv", "1\n")
    entries = [
        {"url": ok, "mandatory": True},
        {"url": f"s3://{s3_bucket}/gone.csv", "mandatory": True},
    ]
    manifest = put_s3_object("m.manifest", json.dumps({"entries": entries}))

    with pytest.raises(psycopg2.Error) as failure:
        copy_and_fetch(redshift_standin, table, f"COPY {table} FROM '{manifest}' MANIFEST CSV")

    assert failure.value.pgcode == "XX000"
    assert "The specified key does not exist" in str(failure.value)
    assert rows_of(redshift_standin, table) == []


def test_prefix_loads_every_matching_object(
    redshift_standin: StandIn, make_table: Callable, put_s3_object: Put, s3_bucket: str
) -> None:
    table = make_table("id int")
    put_s3_object("p/part-1.csv", "1\n")
    put_s3_object("p/part-2.csv", "2\n")
    put_s3_object("other/part-3.csv", "3\n")

    count, rows = copy_and_fetch(
        redshift_standin, table, f"COPY {table} FROM 's3://{s3_bucket}/p/part' CSV"
    )

    assert count == 2
    assert rows == [(1,), (2,)]
