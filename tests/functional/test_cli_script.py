"""The installed `loader-admin` console script, in its own process, against a moto server."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from local_aws.moto_server import MotoServer

EXAMPLE = Path(__file__).resolve().parents[2] / "config" / "examples" / "csv.yaml"
SCRIPT = Path(sys.executable).with_name("loader-admin")


def test_the_console_script_creates_tables_stores_and_lists_a_configuration() -> None:
    assert SCRIPT.exists(), "install the package: pip install -e '.[dev]'"
    with MotoServer() as server:
        env = {**os.environ, "AWS_ENDPOINT_URL": server.endpoint, "LOADER_CONFIG_TABLE": "cfg"}

        def run(*args: str) -> subprocess.CompletedProcess[str]:
            return subprocess.run(
                [str(SCRIPT), *args],
                check=False,
                env=env,
                capture_output=True,
                text=True,
                timeout=60,
            )

        created = run("--region", "us-east-1", "tables", "create")
        stored = run("config", "put", str(EXAMPLE))
        listed = run("config", "list", "--output", "json")
        healthy = run("status", "--output", "json")

    assert created.returncode == 0, created.stderr
    assert "created  cfg" in created.stderr
    assert stored.returncode == 0 and "created  my-landing-bucket/sales/orders" in stored.stderr
    [entry] = json.loads(listed.stdout)
    assert entry["prefix"] == "my-landing-bucket/sales/orders" and entry["valid"]
    assert healthy.returncode == 0 and json.loads(healthy.stdout)["needs_attention"] is False
