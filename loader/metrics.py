"""CloudWatch metrics in Embedded Metric Format (Powertools Metrics): log lines, no API calls.

Names and dimensions are documented in docs/operations.md; the template's alarms use
`OldestOpenBatchAgeSeconds` with the `service` dimension.
"""

from __future__ import annotations

import os
from functools import cache
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from aws_lambda_powertools import Metrics

NAMESPACE_DEFAULT = "S3RedshiftLoader"


def _disabled() -> bool:
    """POWERTOOLS_METRICS_DISABLED: Powertools honours it when flushing, but still collects, and
    prints on its own once a metric holds 100 values; a process that never flushes (loader-admin)
    would find EMF lines in its stdout."""
    return os.environ.get("POWERTOOLS_METRICS_DISABLED", "").lower() == "true"


@cache
def _metrics() -> Metrics:
    from aws_lambda_powertools import Metrics

    return Metrics(
        namespace=os.environ.get("POWERTOOLS_METRICS_NAMESPACE", NAMESPACE_DEFAULT),
        service=os.environ.get("POWERTOOLS_SERVICE_NAME", "s3-redshift-loader"),
    )


def count(name: str, value: float = 1) -> None:
    """A per-invocation counter (dimension: service), flushed at the end of the invocation."""
    if _disabled():
        return
    from aws_lambda_powertools.metrics import MetricUnit

    _metrics().add_metric(name=name, unit=MetricUnit.Count, value=value)


def milliseconds(name: str, value: float) -> None:
    if _disabled():
        return
    from aws_lambda_powertools.metrics import MetricUnit

    _metrics().add_metric(name=name, unit=MetricUnit.Milliseconds, value=value)


def gauge(name: str, value: float, *, unit: str = "Count", prefix: str | None = None) -> None:
    """One value now, optionally per prefix (its own EMF line: dimensions differ per metric)."""
    from aws_lambda_powertools.metrics import MetricUnit, single_metric

    if _disabled():
        return  # Powertools honours it for Metrics, not for single_metric
    metrics = _metrics()
    with single_metric(
        name=name,
        unit=MetricUnit(unit),
        value=value,
        namespace=metrics.namespace,
        default_dimensions={"service": str(metrics.service)},
    ) as metric:
        if prefix is not None:
            metric.add_dimension(name="prefix", value=prefix)


def flush() -> None:
    """Write the invocation's counters (no-op when nothing was counted)."""
    metrics = _metrics()
    if metrics.metric_set:
        metrics.flush_metrics()
