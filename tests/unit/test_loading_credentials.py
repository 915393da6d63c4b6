"""Logins and COPY secrets, per load: IAM temporary credentials, Secrets Manager, KMS."""

from __future__ import annotations

import base64
import json
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber
from pydantic import TypeAdapter

from config.copy_options import CopyOptions
from config.targets import CopyAuthorization, PostgresTarget, RedshiftTarget, Target
from loader.deps import Deps
from loader.errors import ConfigurationError, TerminalError
from loader.loading.credentials import Credentials
from loader.loading.targets.postgres import connection_params as pg_params
from loader.loading.targets.redshift import connection_params
from loader.models import DbLogin
from loader.settings import Settings

ORIGINAL_CONTEXT = {"module": "AWSLambdaRedshiftLoader", "region": "us-east-1"}


def redshift(**fields: Any) -> RedshiftTarget:
    raw = {"type": "redshift", "name": "w", "table": "t", "host": "h.example.com"} | fields
    target = TypeAdapter(Target).validate_python(raw)
    assert isinstance(target, RedshiftTarget)
    return target


@pytest.fixture
def creds(aws: boto3.Session) -> Credentials:
    return Credentials(Deps(Settings.from_env({}), aws))


def encrypt(aws: boto3.Session, plain: str, context: dict[str, str] | None = None) -> str:
    kms = aws.client("kms")
    key = kms.create_key()["KeyMetadata"]["KeyId"]
    extra = {"EncryptionContext": context} if context else {}
    blob = kms.encrypt(KeyId=key, Plaintext=plain.encode(), **extra)["CiphertextBlob"]
    return base64.b64encode(blob).decode()


@pytest.mark.parametrize("context", [None, ORIGINAL_CONTEXT])
def test_kms_passwords_decrypt_with_or_without_the_originals_context(
    aws: boto3.Session, creds: Credentials, context: dict[str, str] | None
) -> None:
    target = redshift(
        auth="kms_password", user="loader", encrypted_password=encrypt(aws, "pa'ss", context)
    )
    assert creds.redshift_login(target) == DbLogin("loader", "pa'ss")


def test_a_value_encrypted_under_another_context_is_a_terminal_error(
    aws: boto3.Session, creds: Credentials
) -> None:
    ciphertext = encrypt(aws, "x", {"module": "someone-else"})
    with pytest.raises(TerminalError, match="InvalidCiphertextException"):
        creds.decrypt(ciphertext)
    with pytest.raises(ConfigurationError, match="not valid base64"):
        creds.decrypt("%%%")


def test_a_secrets_manager_login_may_be_overridden_by_the_target_user(
    aws: boto3.Session, creds: Credentials
) -> None:
    arn = aws.client("secretsmanager").create_secret(
        Name="w", SecretString=json.dumps({"username": "svc", "password": "pw"})
    )["ARN"]
    assert creds.redshift_login(redshift(auth="secret", secret_arn=arn)) == DbLogin("svc", "pw")
    assert creds.redshift_login(redshift(auth="secret", secret_arn=arn, user="other")).user == (
        "other"
    )


def test_cluster_iam_login_uses_temporary_cluster_credentials(
    aws: boto3.Session, creds: Credentials
) -> None:
    aws.client("redshift").create_cluster(
        ClusterIdentifier="c1",
        NodeType="ra3.xlplus",
        MasterUsername="a",
        MasterUserPassword="Passw0rd!",
    )
    login = creds.redshift_login(redshift(cluster_identifier="c1", user="loader"))
    assert login.user == "IAM:loader" and len(login.password) == 32
    assert "password" not in repr(login) and login.password not in repr(login)


def test_serverless_iam_login_asks_redshift_serverless_for_credentials() -> None:
    client = boto3.client("redshift-serverless", region_name="us-east-1")
    deps = Deps(Settings.from_env({}))
    deps._clients["redshift-serverless"] = client
    with Stubber(client) as stub:
        stub.add_response(
            "get_credentials",
            {"dbUser": "IAMR:loader-role", "dbPassword": "temp"},
            {"workgroupName": "wg1", "dbName": "dev", "durationSeconds": 900},
        )
        login = Credentials(deps).redshift_login(redshift(workgroup_name="wg1"))
    assert login == DbLogin("IAMR:loader-role", "temp")


def test_copy_secrets_decrypt_access_keys_and_the_master_key(
    aws: boto3.Session, creds: Credentials
) -> None:
    auth = CopyAuthorization(
        access_key_id="AKIAIOSFODNN7EXAMPLE",
        encrypted_secret_access_key=encrypt(aws, "sk", ORIGINAL_CONTEXT),
    )
    options = CopyOptions(encrypted=True, encrypted_master_symmetric_key=encrypt(aws, "mk"))
    secrets = creds.copy_secrets(auth, options)
    assert (secrets.access_key_id, secrets.secret_access_key) == ("AKIAIOSFODNN7EXAMPLE", "sk")
    assert secrets.master_symmetric_key == "mk"
    assert "sk" not in repr(secrets)


def test_the_lambda_roles_own_credentials_can_authorize_copy(
    aws: boto3.Session, creds: Credentials
) -> None:
    own = aws.get_credentials().get_frozen_credentials()
    secrets = creds.copy_secrets(CopyAuthorization(lambda_credentials=True), CopyOptions())
    assert (secrets.access_key_id, secrets.secret_access_key, secrets.session_token) == (
        own.access_key,
        own.secret_key,
        own.token,
    )
    assert own.secret_key not in repr(secrets)


def test_iam_roles_need_no_secrets(creds: Credentials) -> None:
    secrets = creds.copy_secrets(CopyAuthorization(), CopyOptions())
    assert secrets.access_key_id is None and secrets.secret_access_key is None


def test_tls_is_verified_against_the_system_store_by_default() -> None:
    login = DbLogin("u", "p")
    params = connection_params(
        redshift(cluster_identifier="c", user="u"), login, ca_bundle=None, libpq_version=170000
    )
    assert params["sslmode"] == "verify-full" and params["sslrootcert"] == "system"
    assert params["connect_timeout"] == 10 and params["port"] == 5439
    bundled = connection_params(
        redshift(cluster_identifier="c", user="u"),
        login,
        ca_bundle="/opt/redshift-ca.pem",
        libpq_version=170000,
    )
    assert bundled["sslrootcert"] == "/opt/redshift-ca.pem"
    own = connection_params(
        redshift(cluster_identifier="c", user="u", sslrootcert="/a.pem"),
        login,
        ca_bundle="/opt/redshift-ca.pem",
        libpq_version=170000,
    )
    assert own["sslrootcert"] == "/a.pem"


def test_a_postgres_secret_completes_the_dsn() -> None:
    target = PostgresTarget(name="p", table="t", dsn="host=db dbname=app", secret_arn="arn:x")
    params = pg_params(target, {"username": "u", "password": "p", "port": 6432})
    assert params == {
        "dsn": "host=db dbname=app",
        "user": "u",
        "password": "p",
        "port": 6432,
        "sslmode": "verify-full",
        "connect_timeout": 10,
    }
