"""`loader-admin tables`: the loader's three DynamoDB tables."""

from __future__ import annotations

import typer

from setup_cli.context import Format, Output, cli
from setup_cli.output import emit_json, ok

app = typer.Typer(help="The loader's DynamoDB tables.", no_args_is_help=True)


@app.command(epilog="Example: `loader-admin --region eu-west-1 tables create`")
def create(ctx: typer.Context, output: Output = None) -> None:
    """Create the config, batches and files tables if missing (idempotent; same definitions as
    the SAM template)."""
    from loader.tables import create_tables

    state = cli(ctx)
    names = state.table_names()
    created = create_tables(state.aws().client("dynamodb"), names)
    everything = [names.config, names.batches, names.files]
    if state.fmt(output) is Format.JSON:
        emit_json({"created": created, "existing": [n for n in everything if n not in created]})
        return
    for name in everything:
        ok(f"{'created' if name in created else 'exists '}  {name}")
