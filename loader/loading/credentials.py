"""Secrets for one load, fetched or decrypted per load and never cached, logged or returned in
a repr: database logins (IAM temporary credentials, Secrets Manager, KMS-encrypted passwords) and
the values COPY needs (decrypted S3 secret key, master symmetric key, Lambda role credentials).

Which secret a target needs is decided here; each service is reached through its adapter
(loader/adapters/: secrets, kms, redshift, redshift_serverless).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from loader.copy_sql import CopySecrets
from loader.errors import ConfigurationError
from loader.models import DbLogin, SecretValue

if TYPE_CHECKING:
    from config.copy_options import CopyOptions
    from config.targets import CopyAuthorization, RedshiftTarget
    from loader.deps import Deps


class Credentials:
    """A load's logins and COPY secrets, from the adapters of `deps`."""

    def __init__(self, deps: Deps) -> None:
        self._deps = deps

    def redshift_login(self, target: RedshiftTarget) -> DbLogin:
        if target.auth == "iam":
            return self._iam_login(target)
        if target.auth == "secret":
            assert target.secret_arn is not None  # checked by the model
            login = _login(self.secret(target.secret_arn))
            return DbLogin(target.user or login.user, login.password)
        assert target.user and target.encrypted_password  # checked by the model
        return DbLogin(target.user, self.decrypt(target.encrypted_password))

    def _iam_login(self, target: RedshiftTarget) -> DbLogin:
        if target.workgroup_name:
            return self._deps.redshift_serverless.workgroup_login(
                workgroup_name=target.workgroup_name, database=target.database
            )
        assert target.cluster_identifier is not None  # checked by the model
        return self._deps.redshift.cluster_login(
            cluster_identifier=target.cluster_identifier,
            database=target.database,
            user=target.user,
        )

    def secret(self, secret_arn: str) -> SecretValue:
        return self._deps.secrets.database_secret(secret_arn)

    def decrypt(self, ciphertext_b64: str) -> str:
        """KMS-decrypt a base64 value: without a context, else with the original's context."""
        return self._deps.kms.decrypt_text(ciphertext_b64)

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
            frozen = self._deps.role_credentials()
            if frozen is None:
                raise ConfigurationError("lambda_credentials: the function has no AWS credentials")
            return CopySecrets(
                access_key_id=frozen.access_key,
                secret_access_key=frozen.secret_key,
                session_token=frozen.token,
                master_symmetric_key=master,
            )
        return CopySecrets(master_symmetric_key=master)


def _login(secret: SecretValue) -> DbLogin:
    user, password = secret.fields.get("username"), secret.fields.get("password")
    if not isinstance(user, str) or not isinstance(password, str):
        raise ConfigurationError("the secret needs string 'username' and 'password' fields")
    return DbLogin(user, password)
