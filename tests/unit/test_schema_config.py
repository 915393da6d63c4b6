"""`create_table`, `table_columns` and `schema_evolution` in a configuration: what is accepted.

Types follow "Data types" (c_Supported_data_types.md), r_Numeric_types201.md and
r_Character_types.md of the Redshift Database Developer Guide.
"""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from config.models import PrefixConfig
from config.redshift_types import normalize_type


@pytest.mark.parametrize(
    ("written", "stored"),
    [
        ("int8", "BIGINT"),
        ("int", "INTEGER"),
        ("numeric", "DECIMAL(18,0)"),
        ("decimal( 12 , 2 )", "DECIMAL(12,2)"),
        ("float", "DOUBLE PRECISION"),
        ("character varying(20)", "VARCHAR(20)"),
        ("text", "VARCHAR(256)"),
        ("varchar(max)", "VARCHAR(65535)"),
        ("char", "CHAR(1)"),
        ("timestamp with time zone", "TIMESTAMPTZ"),
        ("bool", "BOOLEAN"),
    ],
)
def test_types_are_stored_in_their_canonical_spelling(written: str, stored: str) -> None:
    assert normalize_type(written) == stored


@pytest.mark.parametrize(
    ("written", "why"),
    [
        ("varchar(65536)", "1 to 65535"),
        ("char(5000)", "1 to 4096"),
        ("decimal(39,2)", "precision must be 1 to 38"),
        ("decimal(5,6)", "scale must not exceed"),
        ("integer(4)", "takes no parameters"),
        ("money", "not a Redshift column type"),
        ("int; DROP TABLE x", "not a Redshift column type"),
    ],
)
def test_types_redshift_does_not_have_are_refused(written: str, why: str) -> None:
    with pytest.raises(ValueError, match=why):
        normalize_type(written)


def config(fmt: dict[str, Any], **target: Any) -> PrefixConfig:
    return PrefixConfig.model_validate(
        {
            "prefix": "landing/in",
            "thresholds": {"max_files": 1},
            "manifest": {"bucket": "manifests"},
            "copy_options": {"format": fmt},
            "targets": [
                {
                    "type": "redshift",
                    "name": "dw",
                    "host": "dw.example.com",
                    "cluster_identifier": "dw",
                    "user": "loader",
                    "table": "raw.events",
                    **target,
                }
            ],
        }
    )


CSV_HEADER = {"type": "csv", "ignore_header_rows": 1}


def test_table_columns_are_validated_and_normalised() -> None:
    loaded = config(
        CSV_HEADER,
        create_table="if_missing",
        table_columns=[
            {"name": "id", "type": "int8", "not_null": True},
            {"name": "n", "type": "text"},
        ],
    )
    [target] = loaded.targets
    assert [(c.name, c.type, c.not_null) for c in target.table_columns or []] == [
        ("id", "BIGINT", True),
        ("n", "VARCHAR(256)", False),
    ]


@pytest.mark.parametrize(
    ("fmt", "target", "message"),
    [
        (CSV_HEADER, {"table_columns": [{"name": "id", "type": "int"}]}, "only used with"),
        (
            CSV_HEADER,
            {"create_table": "if_missing", "table_columns": [{"name": "a", "type": "x"}]},
            "not a Redshift column type",
        ),
        (
            CSV_HEADER,
            {
                "create_table": "if_missing",
                "table_columns": [{"name": "Id", "type": "int"}, {"name": "id", "type": "int"}],
            },
            "same identifier",
        ),
        (
            {"type": "fixedwidth", "columns": ["a:2"]},
            {"create_table": "if_missing"},
            "needs table_columns for format 'fixedwidth'",
        ),
        ({"type": "csv"}, {"schema_evolution": "add_columns"}, "name their columns"),
        (
            {"type": "json", "mode": "jsonpaths", "jsonpaths_url": "s3://bucket/p.json"},
            {"schema_evolution": "detect"},
            "name their columns",
        ),
        (CSV_HEADER, {"schema_evolution": "add_columns", "columns": ["a"]}, "column list"),
    ],
)
def test_schema_options_that_cannot_work_are_refused(
    fmt: dict[str, Any], target: dict[str, Any], message: str
) -> None:
    with pytest.raises(ValidationError, match=message):
        config(fmt, **target)


@pytest.mark.parametrize(
    "fmt",
    [CSV_HEADER, {"type": "csv"}, {"type": "json"}, {"type": "parquet"}, {"type": "orc"}],
)
def test_formats_whose_files_name_columns_may_infer_the_table(fmt: dict[str, Any]) -> None:
    config(fmt, create_table="if_missing", schema_evolution="detect")
