"""Helpers for users of the original loader: `kms encrypt` (its encryptValue.js) and the standard
HTTPS proxy variables, which botocore honours for the loader's own clients."""

from __future__ import annotations

import base64
import json
import socket
import threading
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.exceptions import BotoCoreError
from typer.testing import CliRunner, Result

from loader.deps import Deps
from loader.loading.credentials import Credentials
from loader.settings import Settings
from setup_cli.context import Cli
from setup_cli.main import app
from support.aws import Env

ORIGINAL_CONTEXT = {"module": "AWSLambdaRedshiftLoader", "region": "us-east-1"}


@pytest.fixture
def run(env: Env):
    def invoke(*args: str, input: str | None = None) -> Result:
        obj = Cli(session=env.session, settings=env.settings, clock=env.clock)
        return CliRunner().invoke(app, list(args), obj=obj, input=input)

    return invoke


@pytest.fixture
def key_id(env: Env) -> str:
    kms = env.session.client("kms")
    key = kms.create_key(Description="loader passwords")["KeyMetadata"]["KeyId"]
    kms.create_alias(AliasName="alias/LambdaRedshiftLoaderKey", TargetKeyId=key)
    return key


# --- kms encrypt ------------------------------------------------------------------------------


def test_kms_encrypt_prints_a_ciphertext_the_loader_decrypts(env: Env, run, key_id) -> None:
    plain = run("kms", "encrypt", "s3cr3t+p@ss", "--key-id", "alias/LambdaRedshiftLoaderKey")
    original = run(
        "kms",
        "encrypt",
        "-",
        "--key-id",
        key_id,
        "--original-context",
        "-o",
        "json",
        input="s3cr3t+p@ss\n",
    )
    prompted = run("kms", "encrypt", "--key-id", key_id, input="hidden\n")

    for result in (plain, original, prompted):
        assert result.exit_code == 0, result.output
        assert "s3cr3t" not in result.stdout and "hidden" not in result.stdout
    kms = env.session.client("kms")
    reported = json.loads(original.stdout)
    assert reported["encryption_context"] == ORIGINAL_CONTEXT
    blob = base64.b64decode(reported["ciphertext"])
    # the original's context is required to decrypt it, exactly as the original loader stored it
    assert kms.decrypt(CiphertextBlob=blob, EncryptionContext=ORIGINAL_CONTEXT)["Plaintext"] == (
        b"s3cr3t+p@ss"
    )
    with pytest.raises(kms.exceptions.InvalidCiphertextException):
        kms.decrypt(CiphertextBlob=blob)
    # and the loader's own decryption reads both kinds
    credentials = Credentials(env.deps)
    assert credentials.decrypt(plain.stdout.strip()) == "s3cr3t+p@ss"
    assert credentials.decrypt(reported["ciphertext"]) == "s3cr3t+p@ss"
    assert credentials.decrypt(prompted.stdout.strip()) == "hidden"


def test_kms_encrypt_reports_an_unknown_key(env: Env, run) -> None:
    result = run("kms", "encrypt", "x", "--key-id", "alias/nope")
    assert result.exit_code == 1 and "NotFoundException" in result.stderr
    assert run("kms", "encrypt", "x").exit_code == 2  # --key-id is required


# --- HTTPS proxy ------------------------------------------------------------------------------


@pytest.fixture
def proxy() -> Iterator[dict[str, Any]]:
    """A tiny HTTP proxy on 127.0.0.1 that records the request line of each connection and
    refuses the tunnel (nothing leaves the machine)."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen()
    server.settimeout(0.1)
    seen: list[str] = []
    stop = threading.Event()

    def serve() -> None:
        while not stop.is_set():
            try:
                conn, _ = server.accept()
            except TimeoutError:
                continue
            with conn:
                data = conn.recv(4096).decode("latin-1")
                seen.append(data.split("\r\n", 1)[0])
                conn.sendall(b"HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n\r\n")

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield {"url": f"http://127.0.0.1:{server.getsockname()[1]}", "seen": seen}
    stop.set()
    thread.join(timeout=5)
    server.close()


def test_loader_clients_send_through_https_proxy_and_respect_no_proxy(
    proxy: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HTTPS_PROXY", proxy["url"])
    monkeypatch.setenv("NO_PROXY", "kms.us-east-1.amazonaws.com")
    deps = Deps(Settings.from_env({}), boto3.Session(region_name="us-east-1"))

    with pytest.raises(BotoCoreError):  # the proxy refuses the tunnel
        deps.client("dynamodb").list_tables()

    assert proxy["seen"]
    assert {line.rsplit(" ", 1)[0] for line in proxy["seen"]} == {
        "CONNECT dynamodb.us-east-1.amazonaws.com:443"
    }
    http = deps.client("dynamodb")._endpoint.http_session
    assert (
        http._proxy_config.proxy_url_for("https://dynamodb.us-east-1.amazonaws.com")
        == (proxy["url"])
    )
    # NO_PROXY hosts go direct (checked on the configuration: no request leaves here)
    kms = deps.client("kms")._endpoint.http_session
    assert kms._proxy_config.proxy_url_for("https://kms.us-east-1.amazonaws.com") is None


def test_operations_commands_have_help_with_an_example() -> None:
    commands = [
        ["bucket", "wire"], ["bucket", "unwire"], ["bucket", "show"], ["reconcile"],
        ["kms", "encrypt"], ["config", "pause"], ["config", "resume"], ["config", "delete"],
    ]  # fmt: skip
    for command in commands:
        result = CliRunner().invoke(app, [*command, "--help"])
        assert result.exit_code == 0, command
        assert "Example" in result.stdout and "loader-admin " in result.stdout, command
