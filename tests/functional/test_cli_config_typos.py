"""loader-admin config validate: a misspelt key names the field it was probably meant to be."""

from __future__ import annotations

from pathlib import Path

import yaml
from typer.testing import CliRunner

from setup_cli.context import Cli
from setup_cli.main import app
from support.aws import BUCKET, Env, make_config


def test_config_validate_suggests_the_field_a_typo_meant(env: Env, tmp_path: Path) -> None:
    # GIVEN a configuration file with a misspelt key at the top and inside a target
    raw = make_config(f"{BUCKET}/events").model_dump(mode="json")
    raw["filname_filter"] = raw.pop("filename_filter", None) or ".*"
    raw["targets"][0]["tabel"] = raw["targets"][0].pop("table")
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(raw, sort_keys=False))

    # WHEN it is validated through the real command
    obj = Cli(session=env.session, settings=env.settings, clock=env.clock)
    result = CliRunner().invoke(app, ["config", "validate", str(path)], obj=obj)

    # THEN it fails, and each unknown key says which field was meant
    assert result.exit_code == 1, result.output
    assert "filname_filter: Extra inputs are not permitted; did you mean 'filename_filter'?" in (
        result.stderr
    )
    assert "tabel: Extra inputs are not permitted; did you mean 'table'?" in result.stderr
