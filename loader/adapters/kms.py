"""KMS: values encrypted for the loader (passwords, COPY secret keys), as base64 text.

The original loader encrypted with the context {"module": "AWSLambdaRedshiftLoader",
"region": <region>}; values encrypted without a context and values encrypted by the original
both decrypt.
"""

from __future__ import annotations

import base64
import binascii
from typing import TYPE_CHECKING

from botocore.exceptions import BotoCoreError, ClientError

from loader.errors import ConfigurationError, classify_aws_error

if TYPE_CHECKING:
    from mypy_boto3_kms import KMSClient

ORIGINAL_CONTEXT_MODULE = "AWSLambdaRedshiftLoader"
"""The original loader encrypted with context {"module": this, "region": <region>}."""


class Kms:
    def __init__(self, client: KMSClient) -> None:
        self._kms = client

    def original_context(self) -> dict[str, str]:
        return {"module": ORIGINAL_CONTEXT_MODULE, "region": self._kms.meta.region_name}

    def decrypt_text(self, ciphertext_b64: str) -> str:
        """A base64 ciphertext as text: without a context, else with the original's context."""
        try:
            blob = base64.b64decode(ciphertext_b64, validate=True)
        except (binascii.Error, ValueError):
            raise ConfigurationError("an encrypted value is not valid base64") from None
        kms = self._kms
        try:
            try:
                plain = kms.decrypt(CiphertextBlob=blob)["Plaintext"]
            except kms.exceptions.InvalidCiphertextException:
                plain = kms.decrypt(CiphertextBlob=blob, EncryptionContext=self.original_context())[
                    "Plaintext"
                ]
        except (ClientError, BotoCoreError) as exc:
            raise classify_aws_error(exc) from None  # `from None`: no request dump in traces
        return bytes(plain).decode("utf-8")

    def encrypt_text(self, plain: str, *, key_id: str, original_context: bool) -> tuple[str, str]:
        """Encrypt (and decrypt again, to verify) a value: (base64 ciphertext, the key's id)."""
        context = self.original_context() if original_context else {}
        data = plain.encode("utf-8")
        try:
            encrypted = self._kms.encrypt(KeyId=key_id, Plaintext=data, EncryptionContext=context)
            blob = encrypted["CiphertextBlob"]
            again = self._kms.decrypt(CiphertextBlob=blob, EncryptionContext=context)
        except (ClientError, BotoCoreError) as exc:
            raise classify_aws_error(exc) from None
        if again["Plaintext"] != data:
            raise ConfigurationError("KMS did not give the value back on decryption; do not use it")
        return base64.b64encode(blob).decode("ascii"), str(encrypted.get("KeyId"))
