"""The one observability module: Powertools logger, tracer and metrics, and the metric catalog.

Logger, Tracer and Metrics take their settings from the environment that template.yaml's ``Globals`` sets
(POWERTOOLS_SERVICE_NAME, POWERTOOLS_METRICS_NAMESPACE, POWERTOOLS_LOG_LEVEL, ...). The catalog below is the
single source of the metric names, namespace and dimensions that template.yaml's alarms and dashboard watch;
tests/template holds the template against it.
"""

from collections.abc import Iterator
from contextlib import contextmanager
from enum import StrEnum

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.metrics import EphemeralMetrics, MetricUnit

NAMESPACE = "SimpleDBBackup"
SERVICE_NAME = "simpledb-backup"
SERVICE_DIMENSION = "service"
DOMAIN_DIMENSION = "domain"

logger = Logger()
tracer = Tracer()
metrics = Metrics()


class MetricName(StrEnum):
    """Every custom metric the functions emit, each per domain with dimension sets [service, domain] and
    [service]: the dashboard draws one line per domain, the alarms watch the service-wide set."""

    BACKUP_SUCCEEDED = "BackupSucceeded"
    BACKUP_FAILED = "BackupFailed"
    BACKUP_ITEMS = "BackupItems"
    BACKUP_ATTRIBUTES = "BackupAttributes"
    BACKUP_VALUES = "BackupValues"
    BACKUP_BYTES = "BackupBytes"
    BACKUP_DURATION = "BackupDuration"
    BACKUP_ITEM_DROP_PERCENT = "BackupItemDropPercent"
    BACKUP_SKIPPED = "BackupSkipped"
    RESTORE_SUCCEEDED = "RestoreSucceeded"
    RESTORE_FAILED = "RestoreFailed"
    RESTORE_ITEMS_WRITTEN = "RestoreItemsWritten"
    RESTORE_ITEMS_DELETED = "RestoreItemsDeleted"
    DRILL_SUCCEEDED = "DrillSucceeded"
    DRILL_FAILED = "DrillFailed"
    DRILL_SKIPPED = "DrillSkipped"
    DRILL_DURATION = "DrillDuration"
    DRILL_ITEMS = "DrillItems"


METRIC_UNITS: dict[MetricName, MetricUnit] = {
    MetricName.BACKUP_SUCCEEDED: MetricUnit.Count,
    MetricName.BACKUP_FAILED: MetricUnit.Count,
    MetricName.BACKUP_ITEMS: MetricUnit.Count,
    MetricName.BACKUP_ATTRIBUTES: MetricUnit.Count,
    MetricName.BACKUP_VALUES: MetricUnit.Count,
    MetricName.BACKUP_BYTES: MetricUnit.Bytes,
    MetricName.BACKUP_DURATION: MetricUnit.Seconds,
    MetricName.BACKUP_ITEM_DROP_PERCENT: MetricUnit.Percent,
    MetricName.BACKUP_SKIPPED: MetricUnit.Count,
    MetricName.RESTORE_SUCCEEDED: MetricUnit.Count,
    MetricName.RESTORE_FAILED: MetricUnit.Count,
    MetricName.RESTORE_ITEMS_WRITTEN: MetricUnit.Count,
    MetricName.RESTORE_ITEMS_DELETED: MetricUnit.Count,
    MetricName.DRILL_SUCCEEDED: MetricUnit.Count,
    MetricName.DRILL_FAILED: MetricUnit.Count,
    MetricName.DRILL_SKIPPED: MetricUnit.Count,
    MetricName.DRILL_DURATION: MetricUnit.Seconds,
    MetricName.DRILL_ITEMS: MetricUnit.Count,
}


class DomainMetrics:
    """Collects one domain's metrics; flushed as one EMF record with both dimension sets."""

    def __init__(self, domain: str) -> None:
        self._metrics = EphemeralMetrics(namespace=NAMESPACE, service=SERVICE_NAME)
        self._metrics.add_dimension(name=DOMAIN_DIMENSION, value=domain)
        self._metrics.add_dimensions(**{SERVICE_DIMENSION: SERVICE_NAME})
        self._empty = True

    def add(self, name: MetricName, value: float) -> None:
        self._metrics.add_metric(name=name.value, unit=METRIC_UNITS[name], value=value)
        self._empty = False

    def flush(self) -> None:
        if not self._empty:
            self._metrics.flush_metrics()
            self._empty = True


@contextmanager
def domain_metrics(domain: str) -> Iterator[DomainMetrics]:
    """Yield a per-domain metric collector and flush it on the way out, even when the work failed."""
    collector = DomainMetrics(domain)
    try:
        yield collector
    finally:
        collector.flush()
