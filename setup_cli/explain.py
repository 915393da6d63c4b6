"""`config explain`: which configuration an object matches, and the SQL each target would run.

Pure: configurations in, an explanation out. Secrets never appear: placeholders stand in for
them and `redact` masks every credential in the text.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from loader.copy_sql import (
    CopySecrets,
    build_copy,
    build_merge,
    build_truncate,
    quote_ident,
    quote_name,
    redact,
)
from loader.decisions import match_config, passes_filter, prefix_matches
from loader.manifest import manifest_key
from loader.models import S3Object

if TYPE_CHECKING:
    from config.models import PrefixConfig
    from config.targets import Target
    from loader.models import ConfigSet

BATCH_PLACEHOLDER = "<batch-id>"
STAGE = "s3rl_stage"
_PLACEHOLDER = "PLACEHOLDER-NOT-A-REAL-SECRET"


@dataclass
class Explanation:
    url: str
    candidates: list[str] = field(default_factory=list)
    """Every configured prefix that covers the object, most specific first."""
    invalid: dict[str, str] = field(default_factory=dict)
    """Invalid configurations that cover the object: its files would fail, not be skipped."""
    chosen: str | None = None
    filter: str | None = None
    passes_filter: bool | None = None
    manifest_url: str | None = None
    statements: dict[str, list[str]] = field(default_factory=dict)

    @property
    def verdict(self) -> str:
        if self.invalid:
            return "error: a matching configuration is invalid"
        if self.chosen is None:
            return "ignored: no configuration matches"
        if not self.passes_filter:
            return f"skipped: the file name does not match {self.filter!r}"
        return f"loaded by {self.chosen}"

    def as_dict(self) -> dict[str, Any]:
        return {**self.__dict__, "verdict": self.verdict}


def explain(configs: ConfigSet, obj: S3Object) -> Explanation:
    result = Explanation(url=obj.url)
    covering = [c for c in configs.valid if prefix_matches(c.prefix, obj.path)]
    covering.sort(key=lambda c: (-len(c.prefix.split("/")), c.prefix.count("=*")))
    result.candidates = [c.prefix for c in covering]
    result.invalid = {p: r for p, r in configs.invalid.items() if prefix_matches(p, obj.path)}
    config = match_config(configs.valid, obj)
    if config is None:
        return result
    result.chosen = config.prefix
    result.filter = config.filename_filter
    result.passes_filter = passes_filter(config, obj.key)
    key = manifest_key(config.manifest, config.prefix, BATCH_PLACEHOLDER)
    result.manifest_url = f"s3://{config.manifest.bucket}/{key}"
    for target in config.targets:
        result.statements[target.name] = statements(config, target, result.manifest_url)
    return result


def statements(config: PrefixConfig, target: Target, manifest_url: str) -> list[str]:
    """The statements of one target's load transaction, in order, secrets masked."""
    into = STAGE if target.merge else target.table
    steps = [target.pre_sql] if target.pre_sql else []
    if target.truncate_before_load:
        steps.append(build_truncate(target.table))
    merge = (
        build_merge(target.table, STAGE, target.merge.key_columns, target.columns)
        if target.merge
        else []
    )
    steps += merge[:1]
    steps.append(_copy(config, target, into, manifest_url))
    steps += merge[1:]
    steps += [target.post_sql] if target.post_sql else []
    return steps


def _copy(config: PrefixConfig, target: Target, table: str, manifest_url: str) -> str:
    if target.type == "postgres":
        columns = (
            "(" + ",".join(quote_name(c) for c in target.columns) + ")" if target.columns else ""
        )
        return (
            f"COPY {quote_ident(table)}{columns} FROM STDIN  -- each file of {manifest_url}, "
            "streamed from S3"
        )
    auth = target.copy_authorization
    keys = bool(auth.access_key_id) or bool(getattr(auth, "lambda_credentials", False))
    secrets = CopySecrets(
        access_key_id=None if auth.access_key_id else (_PLACEHOLDER if keys else None),
        secret_access_key=_PLACEHOLDER if keys else None,
        session_token=_PLACEHOLDER if keys and not auth.access_key_id else None,
        master_symmetric_key=_PLACEHOLDER if config.copy_options.encrypted else None,
    )
    sql = build_copy(
        table,
        target.columns,
        manifest_url,
        config.copy_options,
        auth,
        secrets=secrets,
    )
    return redact(sql, secrets=secrets)
