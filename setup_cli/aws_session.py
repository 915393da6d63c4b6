"""The boto3 session of `loader-admin`, resolved as the AWS CLI v2 resolves its own.

- region: `--region`, else `AWS_REGION`, else `AWS_DEFAULT_REGION`, else the profile's `region`
  (botocore reads only the last two itself, so `AWS_REGION` is resolved here);
- profile: `--profile`, else `AWS_PROFILE` (botocore);
- credentials: botocore's chain (environment, profile, SSO, container, instance metadata);
- endpoint: `--endpoint-url`, else botocore's own `AWS_ENDPOINT_URL`, `AWS_ENDPOINT_URL_<SERVICE>`
  and the profile's `endpoint_url`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import boto3


def resolve_region(explicit: str | None, environ: Mapping[str, str]) -> str | None:
    """None leaves the region to the profile (or to botocore's NoRegionError)."""
    return explicit or environ.get("AWS_REGION") or environ.get("AWS_DEFAULT_REGION") or None


class EndpointSession(boto3.Session):
    """A session whose clients all talk to one endpoint (`--endpoint-url`, a local stack)."""

    def __init__(self, *, endpoint_url: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.endpoint_url = endpoint_url

    def client(self, *args: Any, **kwargs: Any) -> Any:  # type: ignore[override]
        kwargs.setdefault("endpoint_url", self.endpoint_url)
        return super().client(*args, **kwargs)


def session(
    *,
    profile: str | None,
    region: str | None,
    endpoint_url: str | None,
    environ: Mapping[str, str],
) -> boto3.Session:
    region_name = resolve_region(region, environ)
    if endpoint_url:
        return EndpointSession(
            endpoint_url=endpoint_url, profile_name=profile, region_name=region_name
        )
    return boto3.Session(profile_name=profile, region_name=region_name)
