"""Structured JSON logs (Powertools Logger): a constant event name plus fields, never secrets."""

from __future__ import annotations

import logging
import os

from aws_lambda_powertools import Logger

SERVICE = os.environ.get("POWERTOOLS_SERVICE_NAME", "s3-redshift-loader")

logger = Logger(service=SERVICE)

# botocore and urllib3 log request/response bodies (session tokens, secret values, KMS
# plaintexts) at DEBUG: never let them follow a DEBUG root logger.
for _noisy in ("botocore", "boto3", "urllib3", "s3transfer"):
    logging.getLogger(_noisy).setLevel(max(logging.getLogger(_noisy).level, logging.INFO))
