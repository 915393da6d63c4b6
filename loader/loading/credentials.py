"""Secrets for one load, fetched or decrypted per load and never cached, logged or returned in
a repr: database logins (IAM temporary credentials, Secrets Manager, KMS-encrypted passwords) and
the values COPY needs (decrypted S3 secret key, master symmetric key, Lambda role credentials).
"""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from botocore.exceptions import BotoCoreError, ClientError

from loader.copy_sql import CopySecrets
from loader.errors import ConfigurationError, classify_aws_error

if TYPE_CHECKING:
    from config.copy_options import CopyOptions
    from config.targets import CopyAuthorization, RedshiftTarget
    from loader.deps import Deps

ORIGINAL_CONTEXT_MODULE = "AWSLambdaRedshiftLoader"
"""The original loader encrypted with context {"module": this, "region": <region>}."""
IAM_CREDENTIAL_SECONDS = 900  # the shortest lifetime the APIs allow; we connect at once


@dataclass(frozen=True)
class DbLogin:
    user: str
    password: str = field(repr=False)


@dataclass(frozen=True)
class SecretValue:
    """A Secrets Manager database secret (RDS/Redshift JSON shape)."""

    fields: dict[str, Any] = field(repr=False)

    @property
    def login(self) -> DbLogin:
        user, password = self.fields.get("username"), self.fields.get("password")
        if not isinstance(user, str) or not isinstance(password, str):
            raise ConfigurationError("the secret needs string 'username' and 'password' fields")
        return DbLogin(user, password)


class Credentials:
    """Talks to STS-backed Redshift APIs, Secrets Manager and KMS through `deps` clients."""

    def __init__(self, deps: Deps) -> None:
        self._deps = deps

    def redshift_login(self, target: RedshiftTarget) -> DbLogin:
        try:
            if target.auth == "iam":
                return self._iam_login(target)
            if target.auth == "secret":
                assert target.secret_arn is not None  # checked by the model
                login = self.secret(target.secret_arn).login
                return DbLogin(target.user or login.user, login.password)
            assert target.user and target.encrypted_password  # checked by the model
            return DbLogin(target.user, self.decrypt(target.encrypted_password))
        except (ClientError, BotoCoreError) as exc:
            raise classify_aws_error(exc) from None  # `from None`: no request dump in traces

    def _iam_login(self, target: RedshiftTarget) -> DbLogin:
        if target.workgroup_name:
            got = self._deps.client("redshift-serverless").get_credentials(
                workgroupName=target.workgroup_name,
                dbName=target.database,
                durationSeconds=IAM_CREDENTIAL_SECONDS,
            )
            return DbLogin(got["dbUser"], got["dbPassword"])
        redshift = self._deps.client("redshift")
        if target.user:
            got = redshift.get_cluster_credentials(
                DbUser=target.user,
                DbName=target.database,
                ClusterIdentifier=target.cluster_identifier,
                DurationSeconds=IAM_CREDENTIAL_SECONDS,
                AutoCreate=False,
            )
        else:
            got = redshift.get_cluster_credentials_with_iam(
                DbName=target.database,
                ClusterIdentifier=target.cluster_identifier,
                DurationSeconds=IAM_CREDENTIAL_SECONDS,
            )
        return DbLogin(got["DbUser"], got["DbPassword"])

    def secret(self, secret_arn: str) -> SecretValue:
        try:
            raw = self._deps.client("secretsmanager").get_secret_value(SecretId=secret_arn)
        except (ClientError, BotoCoreError) as exc:
            raise classify_aws_error(exc) from None
        try:
            fields = json.loads(raw.get("SecretString") or "")
        except ValueError:
            raise ConfigurationError(f"secret {secret_arn} is not a JSON object") from None
        if not isinstance(fields, dict):
            raise ConfigurationError(f"secret {secret_arn} is not a JSON object")
        return SecretValue(fields)

    def decrypt(self, ciphertext_b64: str) -> str:
        """KMS-decrypt a base64 value: without a context, else with the original's context."""
        try:
            blob = base64.b64decode(ciphertext_b64, validate=True)
        except (binascii.Error, ValueError):
            raise ConfigurationError("an encrypted value is not valid base64") from None
        kms = self._deps.client("kms")
        original = {"module": ORIGINAL_CONTEXT_MODULE, "region": kms.meta.region_name}
        try:
            try:
                plain = kms.decrypt(CiphertextBlob=blob)["Plaintext"]
            except kms.exceptions.InvalidCiphertextException:
                plain = kms.decrypt(CiphertextBlob=blob, EncryptionContext=original)["Plaintext"]
        except (ClientError, BotoCoreError) as exc:
            raise classify_aws_error(exc) from None
        return bytes(plain).decode("utf-8")

    def copy_secrets(self, auth: CopyAuthorization, options: CopyOptions) -> CopySecrets:
        """What COPY's authorization and ENCRYPTED clauses need, decrypted for this load."""
        master = None
        if options.encrypted_master_symmetric_key:
            master = self.decrypt(options.encrypted_master_symmetric_key)
        if auth.encrypted_secret_access_key:
            return CopySecrets(
                access_key_id=auth.access_key_id,
                secret_access_key=self.decrypt(auth.encrypted_secret_access_key),
                master_symmetric_key=master,
            )
        if auth.lambda_credentials:
            frozen = self._lambda_credentials()
            return CopySecrets(
                access_key_id=frozen.access_key,
                secret_access_key=frozen.secret_key,
                session_token=frozen.token,
                master_symmetric_key=master,
            )
        return CopySecrets(master_symmetric_key=master)

    def _lambda_credentials(self) -> Any:
        import boto3

        credentials = (self._deps.session or boto3.Session()).get_credentials()
        if credentials is None:
            raise ConfigurationError("lambda_credentials: the function has no AWS credentials")
        return credentials.get_frozen_credentials()
