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


WHERE = {
    "redshift": {"host": "dw.example.com", "cluster_identifier": "dw", "user": "loader"},
    "data_api": {"cluster_identifier": "dw", "db_user": "loader"},
    "postgres": {"dsn": "host=db.example.com dbname=app"},
}
KINDS = list(WHERE)


def config(fmt: dict[str, Any], kind: str = "redshift", **target: Any) -> PrefixConfig:
    return PrefixConfig.model_validate(
        {
            "prefix": "landing/in",
            "thresholds": {"max_files": 1},
            "manifest": {"bucket": "manifests"},
            "copy_options": {"format": fmt},
            "targets": [
                {"type": kind, "name": "dw", "table": "raw.events", **WHERE[kind], **target}
            ],
        }
    )


CSV_HEADER = {"type": "csv", "ignore_header_rows": 1}


@pytest.mark.parametrize("kind", KINDS)
def test_table_columns_are_validated_and_normalised(kind: str) -> None:
    loaded = config(
        CSV_HEADER,
        kind,
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
@pytest.mark.parametrize("kind", KINDS)
def test_schema_options_that_cannot_work_are_refused(
    fmt: dict[str, Any], target: dict[str, Any], message: str, kind: str
) -> None:
    with pytest.raises(ValidationError, match=message):
        config(fmt, kind, **target)


@pytest.mark.parametrize(
    "fmt",
    [CSV_HEADER, {"type": "csv"}, {"type": "json"}, {"type": "parquet"}, {"type": "orc"}],
)
@pytest.mark.parametrize("kind", KINDS)
def test_formats_whose_files_name_columns_may_infer_the_table(
    fmt: dict[str, Any], kind: str
) -> None:
    config(fmt, kind, create_table="if_missing", schema_evolution="detect")


@pytest.mark.parametrize(
    ("type_", "why"),
    [("super", "SUPER has no PostgreSQL counterpart"), ("varbyte(16)", "VARBYTE has no")],
)
def test_a_postgres_table_refuses_the_types_postgresql_lacks(type_: str, why: str) -> None:
    columns = [{"name": "id", "type": "int"}, {"name": "doc", "type": type_}]
    with pytest.raises(ValidationError, match=f"table_columns 'doc': {why}"):
        config(CSV_HEADER, "postgres", create_table="if_missing", table_columns=columns)
    config(CSV_HEADER, "redshift", create_table="if_missing", table_columns=columns)


def test_a_postgres_table_takes_the_other_redshift_types() -> None:
    types = ["smallint", "int8", "decimal(38,2)", "float4", "float", "bool", "char(3)"]
    types += ["varchar(max)", "date", "timestamp", "timestamptz", "time", "timetz"]
    columns = [{"name": f"c{n}", "type": t} for n, t in enumerate(types)]
    config(CSV_HEADER, "postgres", create_table="if_missing", table_columns=columns)
