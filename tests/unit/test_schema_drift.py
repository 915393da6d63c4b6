"""Schema drift: sampled files against the columns COPY loads, and the DDL that would fix it."""

from __future__ import annotations

import gzip

import pytest

from config.copy_options import CopyOptions
from loader.schema.drift import TableColumn, appendable, compare, loaded_columns
from loader.schema.samples import (
    Sample,
    SampleColumn,
    UnreadableSampleError,
    decompress_head,
    read_sample,
)

CSV = CopyOptions.model_validate({"format": {"type": "csv", "ignore_header_rows": 1}})
NO_HEADER = CopyOptions.model_validate({"format": {"type": "csv"}})
JSON = CopyOptions.model_validate({"format": {"type": "json"}})
TABLE = [
    TableColumn("id", "integer", nullable=False),
    TableColumn("name", "character varying(20)"),
]


def csv(body: str) -> Sample:
    return read_sample("s3://b/in/a.csv", body.encode(), CSV, complete=True)


def test_files_that_match_the_table_have_no_drift() -> None:
    assert not compare("t", [csv("ID,Name\n1,a\n")], TABLE)


def test_a_new_csv_column_at_the_end_is_named_typed_and_can_be_appended() -> None:
    drift = compare("raw.t", [csv("id,name,amount\n1,a,2.50\n")], TABLE)
    assert [(c.name, c.type) for c in drift.extra] == [("amount", "DECIMAL(38,2)")]
    assert drift.fixes == ('ALTER TABLE "raw"."t" ADD COLUMN "amount" DECIMAL(38,2)',)
    assert appendable(drift)
    assert "the files carry columns the table lacks: amount" in drift.describe()


def test_a_new_column_in_the_middle_of_a_positional_file_cannot_be_appended() -> None:
    drift = compare("t", [csv("id,amount,name\n1,2,a\n")], TABLE)
    assert [c.name for c in drift.extra] == ["amount"]
    assert drift.order and not appendable(drift)


def test_a_column_the_positional_file_lacks_is_missing() -> None:
    drift = compare("t", [csv("id\n1\n")], TABLE)
    assert drift.missing == ("name",) and not drift.extra
    assert "the files lack columns the table requires: name" in drift.describe()


def test_fillrecord_lets_a_positional_file_lack_nullable_trailing_columns() -> None:
    assert not compare("t", [csv("id\n1\n")], TABLE, fill_record=True)


def test_the_same_columns_in_another_order_are_drift_for_positional_files() -> None:
    drift = compare("t", [csv("name,id\na,1\n")], TABLE)
    assert drift.order and not drift.extra and not drift.missing


def test_json_keys_the_table_lacks_are_extra_and_only_required_columns_are_missing() -> None:
    sample = read_sample("s3://b/a.json", b'{"name": "a", "tags": [1]}\n', JSON, complete=True)
    drift = compare("t", [sample], TABLE)
    assert [(c.name, c.type) for c in drift.extra] == [("tags", "VARCHAR(65535)")]
    assert drift.missing == ("id",)  # NOT NULL without default; name may stay NULL


def test_json_auto_matches_keys_exactly_and_auto_ignorecase_ignores_case() -> None:
    sample = read_sample("s3://b/a.json", b'{"ID": 1, "Name": "a"}\n', JSON, complete=True)
    assert [c.name for c in compare("t", [sample], TABLE).extra] == ["ID", "Name"]
    assert not compare("t", [sample], TABLE, ignorecase=True)


def test_text_without_a_header_only_counts_columns() -> None:
    sample = read_sample("s3://b/a.csv", b"1,a,extra\n", NO_HEADER, complete=True)
    drift = compare("t", [sample], TABLE)
    assert drift.count == (3, 2) and not drift.extra
    assert "the files have 3 fields, the table 2 columns" in drift.describe()


def test_drift_of_several_files_is_merged_and_counted() -> None:
    same, more = csv("id,name\n1,a\n"), csv("id,name,note\n1,a,x\n")
    drift = compare("t", [same, more, more], TABLE)
    assert [c.name for c in drift.extra] == ["note"]
    assert (drift.files, drift.sampled) == (2, 3)
    assert "(2 of 3 sampled files)" in drift.describe()


def test_known_types_from_a_footer_win_over_inference() -> None:
    footer = Sample(
        url="s3://b/a.parquet",
        columns=(SampleColumn("id"), SampleColumn("name"), SampleColumn("at", type="TIMESTAMP")),
        named=True,
        positional=True,
    )
    assert [(c.name, c.type) for c in compare("t", [footer], TABLE).extra] == [("at", "TIMESTAMP")]


def test_identity_columns_are_loaded_only_with_explicit_ids_and_a_column_list_wins() -> None:
    table = [TableColumn("key", "integer", nullable=False, identity=True), *TABLE]
    assert [c.name for c in loaded_columns(table, None, explicit_ids=False)] == ["id", "name"]
    assert len(loaded_columns(table, None, explicit_ids=True)) == 3
    assert [c.name for c in loaded_columns(table, ["NAME"], explicit_ids=False)] == ["name"]


def test_a_cut_off_head_loses_its_partial_record() -> None:
    # GIVEN the first 300 bytes of a gzipped file of 1000 rows "<n>,name-<n>"
    rows = b"".join(b"%d,name-%d\n" % (n, n) for n in range(1000))
    head = gzip.compress(b"id,name\n" + rows, mtime=0)[:300]
    data = decompress_head(head, "gzip") or b""
    assert 0 < len(data) < len(rows)
    # THEN every record read is whole: its name matches its id
    sample = read_sample("s3://b/a.csv.gz", data, CSV, complete=False)
    assert sample.names == ("id", "name")
    ids, names = sample.columns[0].values, sample.columns[1].values
    assert ids and all(name == f"name-{n}" for n, name in zip(ids, names, strict=True))


def test_a_head_that_is_not_what_the_configuration_says_is_unreadable() -> None:
    with pytest.raises(UnreadableSampleError, match="not gzip"):
        decompress_head(b"id,name\n", "gzip")
    with pytest.raises(UnreadableSampleError, match="not JSON"):
        read_sample("s3://b/a.json", b"id,name\n1,a\n", JSON, complete=True)
