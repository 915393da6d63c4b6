"""Configuration files (YAML or JSON) in and out, validated by the same pydantic models."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from config.models import PrefixConfig
from loader.errors import ConfigurationError
from loader.loading.checks import load_problems
from setup_cli.output import validation_lines


def read_documents(path: Path) -> list[Any]:
    """Every YAML document of the file (JSON is YAML too); a list document yields its items."""
    with path.open(encoding="utf-8") as handle:
        documents = [d for d in yaml.safe_load_all(handle) if d is not None]
    found: list[Any] = []
    for document in documents:
        found.extend(document if isinstance(document, list) else [document])
    if not found:
        raise ConfigurationError(f"{path}: no configuration in the file")
    return found


def load_configs(path: Path) -> list[PrefixConfig]:
    """Validate every configuration of the file; all problems are reported together, each with
    the path of the offending field."""
    configs, problems = [], []
    for index, raw in enumerate(read_documents(path), start=1):
        label = raw.get("prefix", f"#{index}") if isinstance(raw, dict) else f"#{index}"
        try:
            config = PrefixConfig.model_validate(raw)
        except ValidationError as exc:
            problems += [f"{label}: {line}" for line in validation_lines(exc)]
            continue
        # What only the load would find out (e.g. zstd into a PostgreSQL target): refuse now.
        problems += [f"{label}: {problem}" for problem in load_problems(config)]
        configs.append(config)
    if problems:
        raise ConfigurationError(f"{path} is invalid:\n  " + "\n  ".join(problems))
    return configs


def to_document(config: PrefixConfig) -> dict[str, Any]:
    """The configuration without defaults, but with every `type` tag (needed to read it back)."""
    document = config.model_dump(mode="json", exclude_defaults=True)
    document["targets"] = [
        {"type": target.type, **raw}
        for target, raw in zip(config.targets, document["targets"], strict=True)
    ]
    copy = document.get("copy_options")
    if copy and "format" in copy:
        copy["format"] = {"type": config.copy_options.format.type, **copy["format"]}
    return document


def to_yaml(configs: list[PrefixConfig]) -> str:
    documents = [to_document(c) for c in configs]
    return yaml.safe_dump_all(documents, sort_keys=False, allow_unicode=True)
