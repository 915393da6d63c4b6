"""Redshift Serverless: temporary database credentials for the loader's IAM role."""

from __future__ import annotations

from typing import TYPE_CHECKING

from botocore.exceptions import BotoCoreError, ClientError

from loader.adapters.redshift import IAM_CREDENTIAL_SECONDS
from loader.errors import classify_aws_error
from loader.models import DbLogin

if TYPE_CHECKING:
    from mypy_boto3_redshift_serverless import RedshiftServerlessClient


class ServerlessWorkgroups:
    def __init__(self, client: RedshiftServerlessClient) -> None:
        self._serverless = client

    def workgroup_login(self, *, workgroup_name: str, database: str) -> DbLogin:
        try:
            got = self._serverless.get_credentials(
                workgroupName=workgroup_name,
                dbName=database,
                durationSeconds=IAM_CREDENTIAL_SECONDS,
            )
        except (ClientError, BotoCoreError) as exc:
            raise classify_aws_error(exc) from None  # `from None`: no request dump in traces
        return DbLogin(got["dbUser"], got["dbPassword"])
