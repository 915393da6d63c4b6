"""docs/configuration.md is generated from the models; it must never drift from them."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any, get_args

import pytest
from pydantic import BaseModel, ValidationError

from config.models import PrefixConfig

ROOT = Path(__file__).resolve().parents[2]


def test_the_configuration_reference_matches_the_models() -> None:
    result = subprocess.run(
        [sys.executable, "scripts/config_reference.py", "--check"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr


def _models(root: type[BaseModel]) -> list[type[BaseModel]]:
    """Every model reachable from `root` through its fields (lists, unions, Annotated)."""
    found: list[type[BaseModel]] = []
    todo: list[Any] = [root]
    while todo:
        item = todo.pop()
        if isinstance(item, type) and issubclass(item, BaseModel):
            if item not in found:
                found.append(item)
                todo += [info.annotation for info in item.model_fields.values()]
            continue
        todo += list(get_args(item))
    return found


def test_every_configuration_field_has_a_description() -> None:
    # GIVEN every model a configuration file can hold
    models = _models(PrefixConfig)
    assert len(models) >= 15

    # THEN every field says what it means (docs/configuration.md is generated from these)
    undocumented = [
        f"{model.__name__}.{name}"
        for model in models
        for name, info in model.model_fields.items()
        if name != "type" and not (info.description or "").strip()
    ]
    assert undocumented == []


def test_a_typo_in_a_field_name_suggests_the_field_meant() -> None:
    # GIVEN a configuration with misspelt keys at three levels
    raw = {
        "prefix": "bucket-1/in",
        "filname_filter": ".*",
        "thresholds": {"max_file": 1},
        "manifest": {"bucket": "manifests-1"},
        "targets": [{"type": "redshift", "name": "wh", "table": "t", "hots": "h"}],
    }

    # WHEN it is validated
    with pytest.raises(ValidationError) as caught:
        PrefixConfig.model_validate(raw)

    # THEN each unknown key names the field it was probably meant to be, where it is
    messages = {".".join(map(str, e["loc"])): e["msg"] for e in caught.value.errors()}
    assert "did you mean 'filename_filter'?" in messages["filname_filter"]
    assert "did you mean 'max_files'?" in messages["thresholds.max_file"]
    assert "did you mean 'host'?" in messages["targets.0.redshift.hots"]
    # and the other errors are still reported with them
    assert "targets.0.redshift.host" in messages


def test_a_key_far_from_every_field_gets_no_guess() -> None:
    with pytest.raises(ValidationError) as caught:
        PrefixConfig.model_validate({"zzzzqqq": 1})
    (extra,) = [e for e in caught.value.errors() if e["loc"] == ("zzzzqqq",)]
    assert "did you mean" not in extra["msg"]
    assert "not permitted" in extra["msg"]
