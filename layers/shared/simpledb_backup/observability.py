"""The one observability module: Powertools logger, tracer and metrics, and the metric catalog.

Logger, Tracer and Metrics take their settings from the environment that template.yaml's ``Globals`` sets
(POWERTOOLS_SERVICE_NAME, POWERTOOLS_METRICS_NAMESPACE, POWERTOOLS_LOG_LEVEL, ...). The catalog below is the
single source of the metric names, namespace and dimensions that template.yaml's alarms and dashboard watch;
tests/template holds the template against it.

No domain data in the logs: whatever a log line carries (an event, an answer, a plan with its samples, an
error), the logger's formatter keeps only counts, ids, kinds and times (``loggable``), so item names,
attribute names and values, where clauses and messages that could quote them never reach CloudWatch Logs. The
answers themselves, returned to the caller, keep everything.
"""

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from enum import StrEnum
from typing import Any

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.logging.formatter import LambdaPowertoolsFormatter
from aws_lambda_powertools.logging.types import LogRecord
from aws_lambda_powertools.metrics import EphemeralMetrics, MetricUnit

NAMESPACE = "SimpleDBBackup"
SERVICE_NAME = "simpledb-backup"
SERVICE_DIMENSION = "service"
DOMAIN_DIMENSION = "domain"

#: Keys whose text is an id, a kind, a configured name or a time: the only text a log line keeps.
TEXT_KEYS = frozenset(
    {
        "action", "status", "state", "phase", "kind", "mode", "source", "trigger", "function", "error_type",
        "error_kind", "domain", "target_domain", "scratch_domain", "run_id", "resume_run_id", "version_id",
        "source_key", "key", "label", "from", "to", "as_of", "at", "time", "started_at", "updated_at",
        "heartbeat_at", "stalled_since", "completed_at", "status_updated_at", "dump", "previous", "latest",
    }
)  # fmt: skip
#: Keys whose lists are configured domain names (kept), not item data.
NAME_LIST_KEYS = frozenset({"domains", "configured_domains"})
#: Keys of the documents the service logs whose contents are descended into: counts, flags and the above.
STRUCTURE_KEYS = frozenset(
    {
        "event", "answer", "summary", "plan", "refusal", "diff", "safety_backup", "lock", "dumps", "failures",
        "skipped", "error", "verification", "drill", "progress", "items", "attributes", "values", "written",
        "counts", "totals", "continues_with", "continuation", "next", "runs", "subset", "retry_stats", "writes",
        "samples_omitted", "source_summary", "invocations", "added", "removed", "changed", "unchanged", "create",
        "update", "delete", "trim", "put", "total", "count", "passed", "verified", "complete", "continued",
        "failed", "exact", "merge", "live", "target_exists", "target_created", "target_items", "items_written",
        "items_to_write", "items_so_far", "target_items_before", "duration_seconds", "elapsed_seconds",
        "size_bytes", "segments_left", "item_drop_percent", "mismatches", "parts", "pre_restore", "more",
        "safety_backup_skipped", "sample_size", "latency_ms", "seconds", "bytes",
    }
)  # fmt: skip
#: Fields Powertools itself adds to every log line.
_POWERTOOLS_KEYS = frozenset(
    {
        "level", "location", "timestamp", "service", "sampling_rate", "cold_start", "function_name",
        "function_memory_size", "function_arn", "function_request_id", "xray_trace_id", "exception",
        "exception_name", "stack_trace",
    }
)  # fmt: skip
#: Lists of documents longer than this are logged as their first elements and their count.
MAX_LOGGED_ELEMENTS = 20


def loggable_field(key: str, value: Any) -> Any:
    """``value`` reduced to what a log line may show of it, or ``None`` when nothing: numbers and flags under
    known keys, text only under ``TEXT_KEYS``, lists of text as their count, documents key by key."""
    if key not in TEXT_KEYS and key not in STRUCTURE_KEYS and key not in NAME_LIST_KEYS:
        return None
    if value is None or isinstance(value, bool | int | float):
        return value
    if isinstance(value, str):
        return value if key in TEXT_KEYS else None
    if isinstance(value, Mapping):
        return loggable(value)
    if isinstance(value, list | tuple | set | frozenset):
        elements = list(value)
        if key in NAME_LIST_KEYS and all(isinstance(element, str) for element in elements):
            return elements
        documents = [loggable(element) for element in elements if isinstance(element, Mapping)]
        if documents and len(documents) == len(elements):
            return documents[:MAX_LOGGED_ELEMENTS] + (
                [len(documents)] if len(documents) > MAX_LOGGED_ELEMENTS else []
            )
        return len(elements)  # names, attributes or values: how many, never which
    return None


def loggable(document: Mapping[str, Any]) -> dict[str, Any]:
    """A document (an event, an answer, a summary) as a log line may carry it: counts, ids, kinds and times,
    never item names, attribute names or values, where clauses or free text that could quote them."""
    kept = {str(key): loggable_field(str(key), value) for key, value in document.items()}
    return {key: value for key, value in kept.items() if value is not None}


class DomainDataFreeFormatter(LambdaPowertoolsFormatter):
    """Powertools' JSON formatter, with every field the service adds reduced by ``loggable`` (and a message
    that is a document, as ``inject_lambda_context(log_event=True)`` logs an event, reduced too)."""

    def serialize(self, log: LogRecord) -> str:
        reduced: dict[str, Any] = {}
        for key, value in log.items():
            if key in _POWERTOOLS_KEYS:
                reduced[key] = value
            elif key == "message":
                reduced[key] = loggable(value) if isinstance(value, Mapping) else value
            else:
                field = loggable_field(key, value)
                if field is not None:
                    reduced[key] = field
        return super().serialize(reduced)


logger = Logger(logger_formatter=DomainDataFreeFormatter())
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
