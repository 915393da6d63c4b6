"""Types for sample values, names for labels, and the table proposed for sample files."""

from __future__ import annotations

from decimal import Decimal

import pytest

from config.copy_options import CopyOptions
from config.redshift_types import normalize_type
from loader.schema.infer import Guess, Widths, column_name, guess_json, guess_text, headroom
from loader.schema.propose import IncompatibleSamplesError, propose
from loader.schema.samples import read_sample

REVIEWED, UNATTENDED = Widths.REVIEWED, Widths.UNATTENDED


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        (["1", "-20", "300"], Guess("INTEGER")),
        (["1", "99999999999"], Guess("BIGINT")),
        (["1.5", "-22.25"], Guess("DECIMAL(8,2)")),
        (["1e5", "2.5"], Guess("DOUBLE PRECISION")),
        (["true", "F", "yes"], Guess("BOOLEAN")),
        (["2024-01-31", "2024-02-01"], Guess("DATE")),
        (["31/01/2024", "01/02/2024"], Guess("DATE", date_format="DD/MM/YYYY")),
        (["01/31/2024", "02/01/2024"], Guess("DATE", date_format="MM/DD/YYYY")),
        (["2024-01-01 10:00:00", "2024-01-01T10:00:00.5"], Guess("TIMESTAMP")),
        (["2024-01-01T10:00:00Z", "2024-01-01 10:00:00+02:00"], Guess("TIMESTAMPTZ")),
        (["31/01/2024 10:00:00"], Guess("TIMESTAMP", time_format="DD/MM/YYYY HH24:MI:SS")),
        (["abc", "hello world"], Guess("VARCHAR(32)")),
    ],
)
def test_text_values_get_the_narrowest_type_that_reads_them_all(
    values: list[str], expected: Guess
) -> None:
    guess = guess_text(values, REVIEWED)
    assert (guess.type, guess.date_format, guess.time_format) == (
        expected.type,
        expected.date_format,
        expected.time_format,
    )
    assert normalize_type(guess.type) == guess.type  # what the configuration accepts as is


def test_codes_with_leading_zeros_stay_text_so_no_digit_is_lost() -> None:
    assert guess_text(["02134", "10001"], REVIEWED).type == "VARCHAR(16)"
    assert guess_text(["0", "0.5"], REVIEWED).type.startswith("DECIMAL")


def test_empty_fields_are_nulls_and_an_all_empty_column_is_text() -> None:
    assert guess_text(["", None, "7"], REVIEWED).type == "INTEGER"
    assert guess_text(["", None], REVIEWED).type == "VARCHAR(16)"


def test_reviewed_widths_have_headroom_and_unattended_ones_take_the_widest_type() -> None:
    assert [headroom(n) for n in (0, 10, 11, 100, 50_000)] == [16, 16, 32, 256, 65535]
    assert guess_text(["x" * 100], REVIEWED).type == "VARCHAR(256)"
    assert guess_text(["x" * 100], UNATTENDED).type == "VARCHAR(65535)"
    assert guess_text(["7"], UNATTENDED).type == "BIGINT"
    assert guess_text(["7.25"], UNATTENDED).type == "DECIMAL(38,2)"


def test_json_values_keep_their_kind_and_nested_values_become_json_text() -> None:
    assert guess_json([1, 2, None], REVIEWED).type == "INTEGER"
    assert guess_json([Decimal("12.50"), 3], REVIEWED).type == "DECIMAL(8,2)"
    assert guess_json([True, False], REVIEWED).type == "BOOLEAN"
    assert guess_json(["2024-01-01T00:00:00Z"], REVIEWED).type == "TIMESTAMPTZ"
    assert guess_json([{"a": [1, 2]}], REVIEWED).type == "VARCHAR(32)"
    assert guess_json([1, "x"], REVIEWED).type == "VARCHAR(16)"


@pytest.mark.parametrize(
    ("label", "name"),
    [
        ("Order ID", "order_id"),
        ("amount", "amount"),
        ("2nd", "_2nd"),
        ("", "col_4"),
        ("Prix É", "prix_É"),
    ],
)
def test_labels_become_plain_column_names(label: str, name: str) -> None:
    assert column_name(label, 3) == name


CSV = CopyOptions.model_validate({"format": {"type": "csv", "ignore_header_rows": 1}})


def test_a_proposal_settles_one_date_format_for_the_copy() -> None:
    # GIVEN two date columns that need different DATEFORMATs and one that needs none
    sample = read_sample(
        "s3://b/a.csv",
        b"a,b,c\n31/01/2024,31/01/2024,2024-01-31\n01/02/2024,15/02/2024,2024-02-01\n",
        CSV,
        complete=True,
    )
    proposal = propose([sample], REVIEWED)
    # THEN the format most columns need wins and the odd one out becomes text
    assert proposal.date_format == "DD/MM/YYYY"
    assert [c.type for c in proposal.columns] == ["DATE", "DATE", "VARCHAR(16)"]


def test_a_proposal_keeps_the_copy_formats_it_is_given() -> None:
    sample = read_sample("s3://b/a.csv", b"d\n31/01/2024\n", CSV, complete=True)
    assert propose([sample], UNATTENDED, formats=(None, None)).columns[0].type == "VARCHAR(65535)"
    assert propose([sample], UNATTENDED, formats=("auto", None)).columns[0].type == "DATE"


def test_positional_files_with_other_columns_cannot_share_a_table() -> None:
    first = read_sample("s3://b/a.csv", b"id,name\n1,a\n", CSV, complete=True)
    other = read_sample("s3://b/b.csv", b"name,id\na,1\n", CSV, complete=True)
    with pytest.raises(IncompatibleSamplesError, match="by position"):
        propose([first, other], REVIEWED)
