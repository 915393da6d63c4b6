"""`loader-admin config infer FILE...`: propose a configuration and its table from sample files.

Writes YAML that `config validate` accepts (it is validated with the same models before it is
written) and that `config test` loads on the same files: the target creates its table when
missing (`create_table: if_missing`) with the proposed `table_columns`. The CREATE TABLE is
shown as a comment at the top of the YAML, or written with `--ddl`.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated, Any

import typer
from pydantic import ValidationError

from config.models import PrefixConfig
from loader.errors import ConfigurationError
from loader.schema.infer import column_name
from setup_cli.context import Format, Output, cli
from setup_cli.documents import to_yaml
from setup_cli.inference import Inferred, infer
from setup_cli.output import emit_json, ok, validation_lines, warn
from setup_cli.sample_files import base_name, read_files, stem

Files = Annotated[
    list[str], typer.Argument(help="Sample files: local paths or s3://bucket/key URLs.")
]


def infer_config(
    ctx: typer.Context,
    files: Files,
    prefix: Annotated[
        str | None,
        typer.Option(help="Watched prefix, bucket/path (default: my-landing-bucket/<name>)."),
    ] = None,
    table: Annotated[
        str | None, typer.Option(help="Target table, [schema.]table (default: public.<name>).")
    ] = None,
    manifest_bucket: Annotated[
        str, typer.Option(help="Bucket for COPY manifests.")
    ] = "my-loader-manifests",
    host: Annotated[
        str, typer.Option(help="Redshift endpoint host.")
    ] = "my-cluster.abc123xyz789.eu-west-1.redshift.amazonaws.com",
    cluster: Annotated[
        str | None, typer.Option(help="Provisioned cluster identifier (IAM login).")
    ] = None,
    workgroup: Annotated[
        str | None, typer.Option(help="Serverless workgroup name (IAM login).")
    ] = None,
    database: Annotated[str, typer.Option(help="Database of the table.")] = "dev",
    header: Annotated[
        bool | None,
        typer.Option(
            "--header/--no-header",
            help="Whether a CSV's first row names the columns (default: detected).",
            show_default=False,
        ),
    ] = None,
    file: Annotated[
        Path | None, typer.Option("--file", "-f", help="Write the YAML here (default: stdout).")
    ] = None,
    ddl: Annotated[
        Path | None, typer.Option("--ddl", help="Also write the CREATE TABLE statement here.")
    ] = None,
    jsonpaths: Annotated[
        Path | None,
        typer.Option(
            "--jsonpaths",
            help="JSON: map every leaf of the records (nested objects flattened) with a JSONPaths "
            "file, written here, instead of 'auto'.",
        ),
    ] = None,
    jsonpaths_url: Annotated[
        str | None,
        typer.Option(help="With --jsonpaths: where the file will be in S3 (s3://bucket/key)."),
    ] = None,
    output: Output = None,
) -> None:
    """Propose a prefix configuration (format, delimiter, quote, header, compression, date/time
    formats, JSON mode) and a Redshift table (names and types, widths from the samples with
    headroom) for sample files: CSV, JSON lines, Parquet or ORC, compressed or not."""
    state = cli(ctx)
    samples = read_files(files, lambda: state.aws().client("s3"))
    inferred = infer(samples, header=header, jsonpaths=jsonpaths is not None)
    name = column_name(stem(files[0]), 0)
    table = table or f"public.{name}"
    if inferred.jsonpaths:
        url = jsonpaths_url or f"s3://{manifest_bucket}/jsonpaths/{name}.json"
        inferred.options["format"]["jsonpaths_url"] = url
    document = _document(
        inferred,
        prefix=prefix or f"my-landing-bucket/{name}",
        table=table,
        manifest_bucket=manifest_bucket,
        target=_target(host, database, cluster, workgroup),
        suffix=_common_suffix(files),
    )
    try:
        config = PrefixConfig.model_validate(document)
    except ValidationError as exc:
        raise ConfigurationError(
            "the proposed configuration is invalid:\n  " + "\n  ".join(validation_lines(exc))
        ) from None
    statement = inferred.create_table(config.targets[0].table) + ";"
    if ddl is not None:
        ddl.write_text(statement + "\n", encoding="utf-8")
    if jsonpaths is not None and inferred.jsonpaths:
        jsonpaths.write_text(inferred.jsonpaths_document(), encoding="utf-8")
    if state.fmt(output) is Format.JSON:
        emit_json(
            {
                "config": document,
                "create_table": statement,
                "jsonpaths": list(inferred.jsonpaths) or None,
                "notes": list(inferred.notes),
                "rows_sampled": sum(s.records for s in inferred.samples),
            }
        )
        return
    text = _commented(statement, inferred) + to_yaml([config])
    for note in inferred.notes:
        warn(f"note: {note}")
    if file is None:
        typer.echo(text, nl=False)
        return
    file.write_text(text, encoding="utf-8")
    paths = f" --jsonpaths {jsonpaths}" if inferred.jsonpaths else ""
    ok(f"wrote {file} (try it: loader-admin config test {file} {' '.join(files)}{paths})")


def _target(host: str, database: str, cluster: str | None, workgroup: str | None) -> dict:
    where = {"workgroup_name": workgroup} if workgroup else {"cluster_identifier": cluster}
    if not workgroup and not cluster:
        where = {"cluster_identifier": host.split(".", 1)[0]}
    return {"type": "redshift", "name": "warehouse", "host": host, "database": database, **where}


def _document(
    inferred: Inferred,
    *,
    prefix: str,
    table: str,
    manifest_bucket: str,
    target: dict[str, Any],
    suffix: str | None,
) -> dict[str, Any]:
    columns = [{"name": c.name, "type": c.type} for c in inferred.proposal.columns]
    document: dict[str, Any] = {"prefix": prefix}
    if suffix:
        document["filename_filter"] = ".*" + re.escape(suffix)
    document |= {
        "thresholds": {"max_files": 100, "max_age_seconds": 300},
        "manifest": {"bucket": manifest_bucket},
        "copy_options": inferred.options,
        "targets": [
            {**target, "table": table, "create_table": "if_missing", "table_columns": columns}
        ],
    }
    return document


def _common_suffix(files: list[str]) -> str | None:
    """The extension every sample shares (`.csv.gz`), for `filename_filter`."""
    suffixes = set()
    for name in files:
        base = base_name(name)
        suffixes.add(base[len(stem(name)) :] if base != stem(name) else "")
    [suffix] = suffixes if len(suffixes) == 1 else [""]
    return suffix or None


def _commented(statement: str, inferred: Inferred) -> str:
    rows = sum(s.records for s in inferred.samples)
    lines = [
        f"# Proposed by `loader-admin config infer` from {len(inferred.samples)} file(s), "
        f"{rows} row(s).",
        "# Review the names and types: the target creates this table when it is missing",
        "# (create_table: if_missing).",
        *[f"#   {line}" for line in _wrapped(statement)],
    ]
    return "\n".join(lines) + "\n"


def _wrapped(statement: str) -> list[str]:
    head, _, body = statement.partition(" (")
    columns = body.rstrip(";").removesuffix(")").split(", ")
    return [f"{head} (", *[f"    {c}," for c in columns[:-1]], f"    {columns[-1]}", ");"]
