"""Redshift (provisioned clusters): temporary database credentials for the loader's IAM role."""

from __future__ import annotations

from typing import TYPE_CHECKING

from botocore.exceptions import BotoCoreError, ClientError

from loader.errors import classify_aws_error
from loader.models import DbLogin

if TYPE_CHECKING:
    from mypy_boto3_redshift import RedshiftClient

IAM_CREDENTIAL_SECONDS = 900  # the shortest lifetime the APIs allow; we connect at once


class RedshiftClusters:
    def __init__(self, client: RedshiftClient) -> None:
        self._redshift = client

    def cluster_login(self, *, cluster_identifier: str, database: str, user: str | None) -> DbLogin:
        """GetClusterCredentials for `user` (never auto-created), or, without a user,
        GetClusterCredentialsWithIAM (the database user is the caller's IAM identity)."""
        try:
            if user:
                got = self._redshift.get_cluster_credentials(
                    DbUser=user,
                    DbName=database,
                    ClusterIdentifier=cluster_identifier,
                    DurationSeconds=IAM_CREDENTIAL_SECONDS,
                    AutoCreate=False,
                )
                return DbLogin(got["DbUser"], got["DbPassword"])
            with_iam = self._redshift.get_cluster_credentials_with_iam(
                DbName=database,
                ClusterIdentifier=cluster_identifier,
                DurationSeconds=IAM_CREDENTIAL_SECONDS,
            )
        except (ClientError, BotoCoreError) as exc:
            raise classify_aws_error(exc) from None  # `from None`: no request dump in traces
        return DbLogin(with_iam["DbUser"], with_iam["DbPassword"])
