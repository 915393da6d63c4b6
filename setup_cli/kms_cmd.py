"""`loader-admin kms`: the original loader's `encryptValue.js`, for `encrypted_password`,
`encrypted_secret_access_key` and `encrypted_master_symmetric_key`."""

from __future__ import annotations

import sys
from typing import Annotated

import typer

from loader.errors import ConfigurationError
from setup_cli.context import Format, Output, cli
from setup_cli.output import emit_json, examples, ok

app = typer.Typer(help="KMS helpers compatible with the original loader.", no_args_is_help=True)


@app.command(
    epilog=examples(
        "loader-admin kms encrypt --key-id alias/LambdaRedshiftLoaderKey   (prompts, hidden)",
        'printf %s "$PW" | loader-admin kms encrypt - --key-id alias/loader --original-context',
    )
)
def encrypt(
    ctx: typer.Context,
    key_id: Annotated[str, typer.Option(help="KMS key id, ARN or alias/NAME.")],
    value: Annotated[
        str | None,
        typer.Argument(
            help="Plain text; `-` reads standard input; omitted: asked for, hidden "
            "(keeps it out of shell history).",
            show_default=False,
        ),
    ] = None,
    original_context: Annotated[
        bool,
        typer.Option(
            "--original-context",
            help='Encrypt with the original\'s context {"module": "AWSLambdaRedshiftLoader", '
            '"region": <region>} (the loader decrypts either way).',
        ),
    ] = False,
    output: Output = None,
) -> None:
    """KMS-encrypt VALUE, decrypt it again to verify, and print the base64 ciphertext to paste
    into a target's `encrypted_password` / `encrypted_secret_access_key`. Use the loader's
    region: the original context names it, and the loader decrypts there."""
    state = cli(ctx)
    if value is None:
        value = typer.prompt("Value to encrypt", hide_input=True, err=True)  # stdout: ciphertext
    elif value == "-":
        value = sys.stdin.read().removesuffix("\n")
    if not value:
        raise ConfigurationError("nothing to encrypt: the value is empty")
    kms = state.deps().kms
    ciphertext, used_key = kms.encrypt_text(value, key_id=key_id, original_context=original_context)
    if state.fmt(output) is Format.JSON:
        context = kms.original_context() if original_context else None
        emit_json({"ciphertext": ciphertext, "key_id": used_key, "encryption_context": context})
        return
    typer.echo(ciphertext)
    ok(f"encrypted with {used_key} and verified")
