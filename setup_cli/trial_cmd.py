"""`loader-admin config test CONFIG FILE...`: try a configuration on sample files, locally.

Exit 0 when every target loads every row (no rejected row, not even one MAXERROR skipped), 1
otherwise. Rejected rows are worded as in the failure notification (`file line N [column]:
reason`), with the sample file's own name and the raw line.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated, Any

import typer

from loader.errors import ConfigurationError
from loader.loading.outcome import describe_row
from loader.models import TargetStatus
from setup_cli.context import Format, Output, cli
from setup_cli.documents import load_configs
from setup_cli.errors import EXIT_ERROR
from setup_cli.output import emit_json, err, out, table, warn
from setup_cli.sample_files import read_files
from setup_cli.trial import TargetTrial, Trial, run_trial

MAX_SHOWN_VALUE = 60


def test_config(
    ctx: typer.Context,
    config_file: Annotated[
        Path, typer.Argument(exists=True, dir_okay=False, help="YAML or JSON configuration file.")
    ],
    files: Annotated[
        list[str], typer.Argument(help="Sample files: local paths or s3://bucket/key URLs.")
    ],
    ddl: Annotated[
        Path | None,
        typer.Option(
            "--ddl",
            exists=True,
            dir_okay=False,
            help="CREATE TABLE for the target table (default: the target's create_table, else "
            "inferred from the samples).",
        ),
    ] = None,
    prefix: Annotated[
        str | None, typer.Option(help="Which configuration of the file (when it holds several).")
    ] = None,
    jsonpaths: Annotated[
        Path | None,
        typer.Option(exists=True, dir_okay=False, help="The JSONPaths file, for mode jsonpaths."),
    ] = None,
    rows: Annotated[int, typer.Option("--rows", "-n", min=0, help="Rows to preview.")] = 10,
    output: Output = None,
) -> None:
    """Run the configuration's own load (COPY options, merge, pre/post SQL, create_table,
    schema_evolution) on sample files against the local Redshift stand-in, and show the loaded
    rows and every rejected row. No AWS account or running stack needed. Exit 0 when the files
    load cleanly, 1 otherwise."""
    state = cli(ctx)
    config = _pick(load_configs(config_file), prefix)
    samples = read_files(files, lambda: state.aws().client("s3"))
    fmt = state.fmt(output)
    with _quiet_loader():
        trial = run_trial(
            config,
            samples,
            ddl=ddl.read_text(encoding="utf-8") if ddl else None,
            jsonpaths=jsonpaths.read_bytes() if jsonpaths else None,
            preview=rows,
            progress=_progress if fmt is Format.TABLE else lambda m: contextlib.nullcontext(),
        )
    if fmt is Format.JSON:
        emit_json(_json(trial))
    else:
        _show(trial)
    if not trial.clean:
        raise typer.Exit(EXIT_ERROR)


def _pick(configs: list[Any], prefix: str | None) -> Any:
    if prefix is not None:
        chosen = [c for c in configs if c.prefix == prefix.removeprefix("s3://").strip("/")]
        if not chosen:
            raise ConfigurationError(f"no configuration for prefix {prefix!r} in the file")
        return chosen[0]
    if len(configs) > 1:
        raise ConfigurationError(
            "the file holds several configurations: choose one with --prefix "
            f"({', '.join(c.prefix for c in configs)})"
        )
    return configs[0]


@contextlib.contextmanager
def _quiet_loader() -> Iterator[None]:
    """The loader logs a failed target as an ERROR line; here the failure is the report itself,
    so its log stays quiet (unless --verbose asked for every log)."""
    from loader.log import logger

    level = logger.log_level
    if level >= logging.ERROR:
        logger.setLevel(logging.CRITICAL)
    try:
        yield
    finally:
        logger.setLevel(level)


@contextlib.contextmanager
def _progress(message: str) -> Iterator[None]:
    with err.status(message, spinner="dots"):
        yield


def _show(trial: Trial) -> None:
    for note in trial.notes:
        warn(f"note: {note}")
    for target in trial.targets:
        _show_target(trial, target)
    verdict = "the files load cleanly" if trial.clean else "the files do not load cleanly"
    err.print(verdict, style="green" if trial.clean else "red")


def _show_target(trial: Trial, target: TargetTrial) -> None:
    head = f"target {target.name} ({target.type}) -> {target.table}"
    out.print(f"\n{head}", style="bold")
    out.print(f"  table: {target.table_from}", markup=False)
    if target.status is TargetStatus.LOADED:
        out.print(f"  loaded {target.rows} row(s); the table holds {target.row_count}")
    else:
        out.print(f"  FAILED: {(target.error or '').split(' | ')[0]}", style="red", markup=False)
    if target.columns and target.preview:
        rows = [[_cell(v) for v in row] for row in target.preview]
        table(f"first {len(rows)} row(s) of {target.table}", list(target.columns), rows)
    for drift in target.schema_drift:
        out.print(f"  {drift.summary}", style="yellow", markup=False)
    if target.error_rows:
        out.print(f"  {len(target.error_rows)} rejected row(s):", style="red")
    for row in target.error_rows:
        shown = row.model_copy(update={"file": trial.source(row.file)})
        out.print(f"    {describe_row(shown)}", markup=False)
        if row.raw_line:
            out.print(f"      raw line: {row.raw_line}", markup=False)


def _cell(value: Any) -> Any:
    text = value if isinstance(value, int | float) or value is None else str(value)
    if isinstance(text, str) and len(text) > MAX_SHOWN_VALUE:
        return text[: MAX_SHOWN_VALUE - 3] + "..."
    return text


def _json(trial: Trial) -> dict[str, Any]:
    return {
        "prefix": trial.prefix,
        "clean": trial.clean,
        "files": [{"file": name, "loaded_from": url} for name, url in trial.files],
        "notes": list(trial.notes),
        "targets": [
            {
                "name": t.name,
                "type": t.type,
                "table": t.table,
                "table_from": t.table_from,
                "status": t.status,
                "rows_loaded": t.rows,
                "row_count": t.row_count,
                "error": t.error,
                "error_rows": [
                    r.model_dump() | {"file": trial.source(r.file)} for r in t.error_rows
                ],
                "schema_drift": [d.model_dump(mode="json") for d in t.schema_drift],
                "preview": {
                    "columns": list(t.columns),
                    "rows": [[_json_value(v) for v in row] for row in t.preview],
                },
            }
            for t in trial.targets
        ],
    }


def _json_value(value: Any) -> Any:
    if value is None or isinstance(value, bool | int | float | str):
        return value
    return str(value)
