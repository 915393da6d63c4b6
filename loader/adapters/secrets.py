"""Secrets Manager: database secrets, read for every load and never cached or logged."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

from botocore.exceptions import BotoCoreError, ClientError

from loader.errors import ConfigurationError, classify_aws_error
from loader.models import SecretValue

if TYPE_CHECKING:
    from mypy_boto3_secretsmanager import SecretsManagerClient


class SecretsManager:
    def __init__(self, client: SecretsManagerClient) -> None:
        self._secrets = client

    def database_secret(self, secret_arn: str) -> SecretValue:
        """The secret's JSON fields (`username`, `password`, `host`, ...)."""
        try:
            raw = self._secrets.get_secret_value(SecretId=secret_arn)
        except (ClientError, BotoCoreError) as exc:
            raise classify_aws_error(exc) from None  # `from None`: no request dump in traces
        try:
            fields = json.loads(raw.get("SecretString") or "")
        except ValueError:
            raise ConfigurationError(f"secret {secret_arn} is not a JSON object") from None
        if not isinstance(fields, dict):
            raise ConfigurationError(f"secret {secret_arn} is not a JSON object")
        return SecretValue(fields)
