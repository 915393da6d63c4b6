"""Structured JSON logs (Powertools Logger): a constant event name plus fields, never secrets."""

from __future__ import annotations

import os

from aws_lambda_powertools import Logger

SERVICE = os.environ.get("POWERTOOLS_SERVICE_NAME", "s3-redshift-loader")

logger = Logger(service=SERVICE)
