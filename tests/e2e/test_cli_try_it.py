"""Try it before deploying, through the real commands: `config infer` proposes a configuration
for sample files, `config validate` accepts it, `config test` loads the samples with it into the
local Redshift stand-in (its own embedded PostgreSQL, in-process moto) with 0 errors; bad rows
make `config test` exit 1 and list every one of them."""

from __future__ import annotations

import bz2
import datetime as dt
import gzip
import io
import json
from pathlib import Path
from typing import Any

import boto3
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import yaml
from pyarrow import orc
from typer.testing import CliRunner, Result

from setup_cli.context import Cli
from setup_cli.main import app

CSV_ROWS = "1,2.50,31/01/2026,alpha\n2,13.75,01/02/2026,\n3,0.10,15/02/2026,gam ma\n"
ARROW = pa.table(
    {
        "id": pa.array([1, 2, 3], pa.int64()),
        "amount": pa.array([2.5, 13.75, 0.1]),
        "placed": pa.array([dt.date(2026, 1, 31), dt.date(2026, 2, 1), dt.date(2026, 2, 15)]),
        "note": ["alpha", None, "gam ma"],
    }
)


def arrow_file(kind: str) -> bytes:
    sink = io.BytesIO()
    (pq.write_table if kind == "parquet" else orc.write_table)(ARROW, sink)
    return sink.getvalue()


SAMPLES: dict[str, tuple[str, bytes]] = {
    "csv with header": ("orders.csv", f"Order ID,amount,placed,note\n{CSV_ROWS}".encode()),
    "csv without header": ("orders.csv", CSV_ROWS.encode()),
    "gzip csv": (
        "orders.csv.gz",
        gzip.compress(f"id,amount,placed,note\n{CSV_ROWS}".replace(",", ";").encode()),
    ),
    "bzip2 tsv": (
        "orders.tsv.bz2",
        bz2.compress(f"id,amount,placed,note\n{CSV_ROWS}".replace(",", "\t").encode()),
    ),
    "json lines": (
        "orders.json",
        b'{"id": 1, "Amount": 2.50, "placed": "2026-01-31", "note": "alpha"}\n'
        b'{"id": 2, "Amount": 13.75, "placed": "2026-02-01"}\n'
        b'{"id": 3, "Amount": 0.10, "placed": "2026-02-15", "note": "gam ma", "tags": [1]}\n',
    ),
    "parquet": ("orders.parquet", arrow_file("parquet")),
    "orc": ("orders.orc", arrow_file("orc")),
}


def loader_admin(*args: str, obj: Cli | None = None) -> Result:
    return CliRunner().invoke(app, list(args), obj=obj or Cli())


def values(row: list[Any]) -> tuple[Any, ...]:
    """(id, amount, placed, note) of a previewed row, as text."""
    return tuple(None if v is None else str(v) for v in row[:4])


@pytest.mark.parametrize("sample", list(SAMPLES))
def test_infer_writes_a_configuration_that_validates_and_loads_the_samples_cleanly(
    tmp_path: Path, sample: str
) -> None:
    # GIVEN a sample file
    name, body = SAMPLES[sample]
    data = tmp_path / name
    data.write_bytes(body)
    config = tmp_path / "orders.yaml"

    # WHEN config infer proposes a configuration for it
    inferred = loader_admin(
        "config", "infer", str(data), "--table", "raw.orders", "-f", str(config)
    )
    assert inferred.exit_code == 0, inferred.output

    # THEN config validate accepts it
    validated = loader_admin("config", "validate", str(config))
    assert validated.exit_code == 0, validated.output

    # AND config test loads every sample row with it, with no rejected row
    tested = loader_admin("config", "test", str(config), str(data), "-o", "json")
    assert tested.exit_code == 0, tested.output
    report = json.loads(tested.stdout)
    assert report["clean"] is True
    [target] = report["targets"]
    assert (target["status"], target["rows_loaded"], target["row_count"]) == ("loaded", 3, 3)
    assert target["error_rows"] == []
    rows = sorted(values(r) for r in target["preview"]["rows"])
    assert [r[0] for r in rows] == ["1", "2", "3"]
    assert rows[0][2] == "2026-01-31"  # a date column, whatever the file wrote it as
    assert rows[2][3] == "gam ma"


def test_the_proposal_names_columns_types_and_copy_options(tmp_path: Path) -> None:
    data = tmp_path / "orders.csv.gz"
    data.write_bytes(gzip.compress(f"Order ID,amount,placed,note\n{CSV_ROWS}".encode()))

    result = loader_admin("config", "infer", str(data), "-o", "json")

    assert result.exit_code == 0, result.output
    proposal = json.loads(result.stdout)
    config = proposal["config"]
    assert config["copy_options"] == {
        "format": {"type": "csv", "delimiter": ",", "quote_char": '"', "ignore_header_rows": 1},
        "compression": "gzip",
        "date_format": "DD/MM/YYYY",
    }
    assert config["filename_filter"] == r".*\.csv\.gz"
    [target] = config["targets"]
    assert target["create_table"] == "if_missing"
    assert target["table_columns"] == [
        {"name": "order_id", "type": "INTEGER"},
        {"name": "amount", "type": "DECIMAL(8,2)"},
        {"name": "placed", "type": "DATE"},
        {"name": "note", "type": "VARCHAR(16)"},
    ]
    assert proposal["create_table"] == (
        'CREATE TABLE "public"."orders" ("order_id" INTEGER, "amount" DECIMAL(8,2), '
        '"placed" DATE, "note" VARCHAR(16));'
    )


def test_bad_rows_make_config_test_exit_1_and_every_one_is_listed(tmp_path: Path) -> None:
    # GIVEN a configuration inferred from good samples, and a file with two bad rows
    good = tmp_path / "orders.csv"
    good.write_text(f"id,amount,placed,note\n{CSV_ROWS}")
    config = tmp_path / "orders.yaml"
    assert loader_admin("config", "infer", str(good), "-f", str(config)).exit_code == 0
    bad = tmp_path / "bad.csv"
    bad.write_text(
        "id,amount,placed,note\n1,2.5,31/01/2026,a\nseven,1,31/01/2026,b\n3,x,31/01/2026,c\n"
    )

    # WHEN config test loads it
    result = loader_admin("config", "test", str(config), str(bad))

    # THEN it exits 1 and lists each bad row as the failure notification words it, raw line too
    assert result.exit_code == 1
    assert f"{bad} line 3 [id]: Invalid digit, Value 's', Pos 0, Type: Integer" in result.stdout
    assert "raw line: seven,1,31/01/2026,b" in result.stdout
    assert f"{bad} line 4 [amount]: Invalid digit, Value 'x', Type: Decimal" in result.stdout
    assert "raw line: 3,x,31/01/2026,c" in result.stdout
    assert "the files do not load cleanly" in result.stderr

    # AND -o json carries the same rows with the notification's fields
    report = json.loads(loader_admin("config", "test", str(config), str(bad), "-o", "json").stdout)
    [target] = report["targets"]
    assert [(r["file"], r["line"], r["column"], r["code"]) for r in target["error_rows"]] == [
        (str(bad), 3, "id", "1207"),
        (str(bad), 4, "amount", "1209"),
    ]
    assert report["clean"] is False and target["status"] == "failed"


def test_rows_skipped_by_maxerror_still_fail_the_test(tmp_path: Path) -> None:
    good = tmp_path / "orders.csv"
    good.write_text(f"id,amount,placed,note\n{CSV_ROWS}")
    config = tmp_path / "orders.yaml"
    assert loader_admin("config", "infer", str(good), "-f", str(config)).exit_code == 0
    document = yaml.safe_load(config.read_text())
    document["copy_options"]["max_error"] = 10
    config.write_text(yaml.safe_dump(document))
    bad = tmp_path / "bad.csv"
    bad.write_text("id,amount,placed,note\n1,2.5,31/01/2026,a\nseven,1,31/01/2026,b\n")

    result = loader_admin("config", "test", str(config), str(bad), "-o", "json")

    assert result.exit_code == 1
    [target] = json.loads(result.stdout)["targets"]
    assert target["status"] == "loaded" and target["rows_loaded"] == 1
    assert [r["line"] for r in target["error_rows"]] == [3]


def test_a_configuration_without_create_table_takes_its_table_from_ddl(tmp_path: Path) -> None:
    # GIVEN the repository's CSV example (no create_table) and a CREATE TABLE for its table
    example = yaml.safe_load(Path("config/examples/csv.yaml").read_text())
    config = tmp_path / "example.yaml"
    config.write_text(yaml.safe_dump(example))
    table = example["targets"][0]["table"]
    ddl = tmp_path / "table.sql"
    ddl.write_text(  # Redshift DDL: the stand-in rewrites IDENTITY as Redshift defines it
        f"CREATE TABLE {table} (order_id INTEGER, sku VARCHAR(20), qty INT, "
        "row_id BIGINT IDENTITY(1,1))"
    )
    data = tmp_path / "orders.csv"
    data.write_text("order_id,sku,qty\n1,A-1,2\n2,B-2,5\n")

    result = loader_admin("config", "test", str(config), str(data), "--ddl", str(ddl), "-o", "json")

    assert result.exit_code == 0, result.output
    [target] = json.loads(result.stdout)["targets"]
    assert target["table_from"] == "--ddl"
    assert target["row_count"] == 2


def test_samples_may_be_s3_urls(tmp_path: Path, aws: boto3.Session) -> None:
    # GIVEN a sample in S3
    aws.client("s3").create_bucket(Bucket="raw")
    aws.client("s3").put_object(Bucket="raw", Key="in/orders.json", Body=SAMPLES["json lines"][1])

    result = loader_admin(
        "config", "infer", "s3://raw/in/orders.json", "-o", "json", obj=Cli(session=aws)
    )

    assert result.exit_code == 0, result.output
    config = json.loads(result.stdout)["config"]
    assert config["copy_options"]["format"] == {"type": "json", "mode": "auto_ignorecase"}
    assert [c["name"] for c in config["targets"][0]["table_columns"]] == [
        "id",
        "amount",
        "placed",
        "note",
        "tags",
    ]


def test_json_keys_that_cannot_be_columns_get_a_jsonpaths_file_that_loads(tmp_path: Path) -> None:
    # GIVEN records whose keys differ only in case, with nested objects
    data = tmp_path / "events.json"
    data.write_bytes(
        b'{"Id": 1, "id": 7, "user": {"name": "a", "address": {"city": "Paris"}}, "tags": [1]}\n'
        b'{"Id": 2, "id": 8, "user": {"name": "b"}}\n'
    )
    config, paths = tmp_path / "events.yaml", tmp_path / "events.paths.json"

    # WHEN infer is asked for 'auto': refused, naming the keys
    refused = loader_admin("config", "infer", str(data))
    assert refused.exit_code == 1
    assert "['id'] differ from others only in case" in refused.output

    # WHEN it is asked for a JSONPaths file instead
    inferred = loader_admin(
        "config", "infer", str(data), "--jsonpaths", str(paths), "-f", str(config)
    )
    assert inferred.exit_code == 0, inferred.output

    # THEN every leaf has a path and a column
    assert json.loads(paths.read_text())["jsonpaths"] == [
        "$['Id']",
        "$['id']",
        "$['user']['name']",
        "$['user']['address']['city']",
        "$['tags']",
    ]
    document = yaml.safe_load(config.read_text())
    assert document["copy_options"]["format"]["mode"] == "jsonpaths"
    assert [c["name"] for c in document["targets"][0]["table_columns"]] == [
        "id",
        "id_2",
        "user_name",
        "user_address_city",
        "tags",
    ]
    assert loader_admin("config", "validate", str(config)).exit_code == 0

    # AND config test loads the records with that file
    tested = loader_admin(
        "config", "test", str(config), str(data), "--jsonpaths", str(paths), "-o", "json"
    )
    assert tested.exit_code == 0, tested.output
    [target] = json.loads(tested.stdout)["targets"]
    assert sorted(values(r) + tuple(r[4:]) for r in target["preview"]["rows"]) == [
        ("1", "7", "a", "Paris", "[1]"),
        ("2", "8", "b", None, None),
    ]
