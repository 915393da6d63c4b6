"""`config wizard`: build a configuration by answering questions; only those that apply are asked
(CSV questions for CSV, Serverless or cluster for Redshift, ...). Each answer (each group of
answers: the format, the thresholds, the target) is validated by the same models as `config put`
as soon as it is given, and asked again when it is wrong."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any

import typer
from pydantic import ValidationError

from config.models import PrefixConfig
from setup_cli.context import cli
from setup_cli.documents import to_yaml
from setup_cli.output import ok, out

FORMATS = ["csv", "delimited", "json", "avro", "parquet", "orc"]
COMPRESSIONS = ["none", "gzip", "bzip2", "lzop", "zstd"]
TARGETS = ["redshift", "data_api", "postgres"]


# A valid configuration the answers so far are laid over: whatever the model says about the
# field just answered is about that answer (cross-field rules are checked again at the end).
_SKELETON: dict[str, Any] = {
    "prefix": "wizard-bucket/prefix",
    "manifest": {"bucket": "wizard-manifests"},
    "targets": [{"type": "postgres", "name": "wizard", "table": "t", "dsn": "host=x"}],
}


def problems(raw: dict[str, Any], field: str) -> list[str]:
    """What the configuration models say about `field` of `raw` (a partial configuration)."""
    candidate = {**_SKELETON, **raw}
    try:
        PrefixConfig.model_validate(candidate)
    except ValidationError as exc:
        return [
            f"{'.'.join(str(p) for p in error['loc'][1:]) or field}: {error['msg']}"
            for error in exc.errors(include_url=False)
            if error["loc"] and error["loc"][0] == field
        ]
    return []


def checked(raw: dict[str, Any], field: str, asking: Callable[[], Any]) -> Any:
    """Ask until the models accept the answer for `field`; store it in `raw` and return it."""
    while True:
        answer = asking()
        if answer is None:
            raw.pop(field, None)
            return None
        raw[field] = answer
        found = problems(raw, field)
        if not found:
            return answer
        for problem in found:
            typer.echo(f"Not valid: {problem.removeprefix('Value error, ')}. Please answer again.")


def _ask(text: str, default: Any = None, **kwargs: Any) -> Any:
    return typer.prompt(text, default=default, **kwargs)


def _optional(text: str) -> str | None:
    return typer.prompt(f"{text} (blank for none)", default="", show_default=False) or None


def _choice(text: str, options: list[str], default: str) -> str:
    while True:
        answer = str(typer.prompt(f"{text} [{'/'.join(options)}]", default=default)).strip()
        if answer in options:
            return answer
        typer.echo(f"Please answer one of: {', '.join(options)}")


def ask_format() -> dict[str, Any]:
    kind = _choice("Data format", FORMATS, "csv")
    fmt: dict[str, Any] = {"type": kind}
    if kind in {"csv", "delimited"}:
        fmt["delimiter"] = _ask("Field delimiter (\\t for tab)", "," if kind == "csv" else "|")
        fmt["ignore_header_rows"] = _ask("Header lines to skip", 0, type=int)
    if kind == "csv":
        fmt["quote_char"] = _ask("Quote character", '"')
    if kind == "delimited":
        fmt["escape"] = typer.confirm("Backslash escapes (ESCAPE)?", default=False)
        fmt["remove_quotes"] = typer.confirm("Remove surrounding quotes (REMOVEQUOTES)?", False)
    if kind in {"json", "avro"}:
        mode = _choice("Column mapping", ["auto", "auto_ignorecase", "jsonpaths"], "auto")
        fmt["mode"] = mode
        if mode == "jsonpaths":
            fmt["jsonpaths_url"] = _ask("JSONPaths file (s3://bucket/key)")
    options: dict[str, Any] = {"format": fmt}
    if kind not in {"parquet", "orc"}:
        options["compression"] = _choice("Compression of the files", COMPRESSIONS, "none")
    return options


def ask_thresholds() -> dict[str, Any]:
    out.print("Seal a batch when any of these is reached:")
    files = _ask("  files in the batch (0: no limit)", 100, type=int)
    size = _ask("  bytes in the batch (0: no limit)", 0, type=int)
    age = _ask("  seconds since its first file (0: no limit)", 300, type=int)
    return {"max_files": files or None, "max_bytes": size or None, "max_age_seconds": age or None}


def ask_target() -> dict[str, Any]:
    kind = _choice("Target type", TARGETS, "redshift")
    target: dict[str, Any] = {"type": kind, "name": _ask("Target name", "main")}
    target["table"] = _ask("Table (table or schema.table)")
    if kind == "postgres":
        target["dsn"] = _ask("libpq connection string (no password)", "host=localhost dbname=dev")
        target["sslmode"] = _choice(
            "sslmode", ["verify-full", "require", "prefer", "disable"], "verify-full"
        )
    else:
        target.update(_ask_redshift(kind))
    target["truncate_before_load"] = typer.confirm("Empty the table before each load?", False)
    return target


def _ask_redshift(kind: str) -> dict[str, Any]:
    serverless = typer.confirm("Redshift Serverless?", default=False)
    where = "workgroup_name" if serverless else "cluster_identifier"
    label = "Workgroup name" if serverless else "Cluster identifier"
    answers: dict[str, Any] = {}
    if kind == "redshift":
        answers["host"] = _ask("Endpoint host name")
        answers["port"] = _ask("Port", 5439, type=int)
        answers["sslmode"] = _choice(
            "sslmode (TLS)", ["verify-full", "verify-ca", "require", "disable"], "verify-full"
        )
    answers["database"] = _ask("Database", "dev")
    auth = _choice("Database credentials", ["iam", "secret"], "iam")
    if kind == "redshift":
        answers["auth"] = auth
    if auth == "secret":
        answers["secret_arn"] = _ask("Secrets Manager secret ARN")
    answers[where] = _ask(label) if kind == "data_api" or auth == "iam" else _optional(label)
    if auth == "iam":
        answers["db_user" if kind == "data_api" else "user"] = _optional("Database user")
    role = _optional("IAM role ARN for COPY (blank: IAM_ROLE default)")
    if role:
        answers["copy_authorization"] = {"iam_roles": [role]}
    return {k: v for k, v in answers.items() if v is not None}


def ask() -> dict[str, Any]:
    raw: dict[str, Any] = {}
    checked(raw, "prefix", lambda: _ask("S3 prefix to watch (bucket/path)"))
    checked(raw, "description", lambda: _optional("Description"))
    checked(raw, "copy_options", ask_format)
    checked(
        raw, "filename_filter", lambda: _optional("File name regex (must match the whole name)")
    )
    checked(raw, "thresholds", ask_thresholds)
    checked(
        raw,
        "manifest",
        lambda: {"bucket": _ask("Manifest bucket"), "prefix": _ask("Manifest prefix", "manifests")},
    )
    checked(raw, "targets", lambda: [ask_target()])

    def topics() -> dict[str, Any] | None:
        success, failure = _optional("SNS topic ARN for successes"), _optional("... for failures")
        if success or failure:
            return {"success_topic_arn": success, "failure_topic_arn": failure}
        return None

    checked(raw, "notifications", topics)
    return raw


def wizard(
    ctx: typer.Context,
    file: Annotated[
        Path | None, typer.Option("--file", "-f", help="Also write the YAML to this file.")
    ] = None,
    store: Annotated[
        bool | None, typer.Option(help="Store it now (default: ask).", show_default=False)
    ] = None,
) -> None:
    """Build a configuration interactively, validate it, then store it and/or write it to a file.

    Each answer is checked as it is given; rules across answers (a manifest location inside
    the watched prefix, ...) are checked at the end, and the question group they concern is
    asked again.
    """
    raw = ask()
    while True:
        try:
            config = PrefixConfig.model_validate(raw)
            break
        except ValidationError as exc:
            message = str(exc.errors(include_url=False)[0]["msg"]).removeprefix("Value error, ")
            if "manifest" not in message:
                raise
            typer.echo(f"Not valid as a whole: {message}")
            checked(
                raw,
                "manifest",
                lambda: {"bucket": _ask("Manifest bucket"), "prefix": _ask("Manifest prefix")},
            )
    text = to_yaml([config])
    out.print("\n" + text, markup=False)
    if file is not None:
        file.write_text(text, encoding="utf-8")
        ok(f"written to {file}")
    if store is None:
        store = typer.confirm("Store it in the configuration table now?", default=True)
    if store:
        state = cli(ctx)
        state.deps().configs.put(config, state.clock())
        ok(f"stored {config.prefix}")
