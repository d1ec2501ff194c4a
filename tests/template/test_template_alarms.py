"""Alarms 1-7 and the dashboard watch metrics the code really emits.

The custom metrics' names, namespace and dimension sets are not re-typed here: they come from
``simpledb_backup.observability`` and from the EMF record ``domain_metrics()`` actually prints.
"""

import json
import re
from pathlib import Path
from typing import Any, NamedTuple

import pytest
from cfnsupport import REPO_ROOT, resolver, resources_of_type

from simpledb_backup.observability import (
    DOMAIN_DIMENSION,
    NAMESPACE,
    SERVICE_DIMENSION,
    SERVICE_NAME,
    MetricName,
    domain_metrics,
)

ALARMS = [
    "BackupFailedAlarm",
    "BackupMissingAlarm",
    "BackupNearTimeoutAlarm",
    "BackupItemDropAlarm",
    "RestoreFailedAlarm",
    "DeliveryFailedAlarm",
    "FunctionsThrottledAlarm",
]
RUNBOOK = REPO_ROOT / "docs" / "RUNBOOK.md"


class Metric(NamedTuple):
    namespace: str
    name: str
    dimensions: dict[str, str]
    stat: str


class Emitted(NamedTuple):
    namespace: str
    names: set[str]
    dimension_sets: list[dict[str, str]]


@pytest.fixture
def emitted(capsys: pytest.CaptureFixture[str]) -> Emitted:
    """Run the real metric code for one domain and parse the EMF record(s) it prints."""
    capsys.readouterr()
    with domain_metrics("packages") as collector:
        for name in MetricName:
            collector.add(name, 1)
    records = [json.loads(line) for line in capsys.readouterr().out.splitlines() if '"_aws"' in line]
    assert records, "domain_metrics printed no EMF record"
    namespaces: set[str] = set()
    names: set[str] = set()
    dimension_sets: list[dict[str, str]] = []
    for record in records:
        for directive in record["_aws"]["CloudWatchMetrics"]:
            namespaces.add(directive["Namespace"])
            names.update(metric["Name"] for metric in directive["Metrics"])
            for dimension_names in directive["Dimensions"]:
                dimensions = {name: record[name] for name in dimension_names}
                if dimensions not in dimension_sets:
                    dimension_sets.append(dimensions)
    (namespace,) = namespaces
    return Emitted(namespace, names, dimension_sets)


def alarm(template: dict[str, Any], logical_id: str) -> dict[str, Any]:
    return resolver(template).resolve(template["Resources"][logical_id]["Properties"])  # type: ignore[no-any-return]


def alarm_metrics(properties: dict[str, Any]) -> list[Metric]:
    """Every metric an alarm reads: a single-metric alarm or each MetricStat of a metric-math alarm."""
    if "MetricName" in properties:
        dimensions = {d["Name"]: d["Value"] for d in properties.get("Dimensions", [])}
        return [
            Metric(properties["Namespace"], properties["MetricName"], dimensions, properties["Statistic"])
        ]
    metrics = []
    for query in properties["Metrics"]:
        if "MetricStat" in query:
            stat = query["MetricStat"]
            dimensions = {d["Name"]: d["Value"] for d in stat["Metric"].get("Dimensions", [])}
            metrics.append(
                Metric(stat["Metric"]["Namespace"], stat["Metric"]["MetricName"], dimensions, stat["Stat"])
            )
    return metrics


def test_emf_output_matches_the_catalog(emitted: Emitted) -> None:
    assert emitted.namespace == NAMESPACE
    assert emitted.names == {name.value for name in MetricName}
    assert {SERVICE_DIMENSION: SERVICE_NAME} in emitted.dimension_sets
    assert {SERVICE_DIMENSION: SERVICE_NAME, DOMAIN_DIMENSION: "packages"} in emitted.dimension_sets


def test_every_alarm_exists_and_notifies_the_topic(translated: dict[str, Any]) -> None:
    assert set(resources_of_type(translated, "AWS::CloudWatch::Alarm")) == set(ALARMS)
    for logical_id in ALARMS:
        properties = alarm(translated, logical_id)
        assert properties["AlarmActions"] == ["<AlarmTopic>"], logical_id
        assert properties["OKActions"] == ["<AlarmTopic>"], logical_id


@pytest.mark.parametrize("logical_id", ALARMS)
def test_description_points_at_its_runbook_section(translated: dict[str, Any], logical_id: str) -> None:
    description = alarm(translated, logical_id)["AlarmDescription"]
    anchor = logical_id.lower()
    assert f"docs/RUNBOOK.md#{anchor}" in description
    assert len(description) <= 1024  # CloudWatch's limit
    headings = [
        line.lstrip("#").strip() for line in Path(RUNBOOK).read_text().splitlines() if line.startswith("#")
    ]
    assert logical_id in headings, f"docs/RUNBOOK.md has no section '{logical_id}'"


def test_custom_metrics_are_from_the_catalog_with_the_emitted_dimensions(
    translated: dict[str, Any], emitted: Emitted
) -> None:
    custom = [
        (logical_id, metric)
        for logical_id in ALARMS
        for metric in alarm_metrics(alarm(translated, logical_id))
        if metric.namespace == NAMESPACE
    ]
    assert {metric.name for _, metric in custom} == {
        MetricName.BACKUP_FAILED,
        MetricName.BACKUP_SUCCEEDED,
        MetricName.BACKUP_ITEM_DROP_PERCENT,
        MetricName.RESTORE_FAILED,
    }
    for logical_id, metric in custom:
        assert metric.name in {name.value for name in MetricName}, logical_id
        assert metric.name in emitted.names, logical_id
        # Exactly the service-wide set the code emits (a metric with another set is a different metric).
        assert metric.dimensions == {SERVICE_DIMENSION: SERVICE_NAME}, logical_id
        assert metric.dimensions in emitted.dimension_sets, logical_id
    for logical_id in ALARMS:
        for metric in alarm_metrics(alarm(translated, logical_id)):
            assert metric.namespace == NAMESPACE or metric.namespace.startswith("AWS/"), logical_id


def test_metric_math_uses_every_query(translated: dict[str, Any]) -> None:
    for logical_id in ALARMS:
        properties = alarm(translated, logical_id)
        if "Metrics" not in properties:
            continue
        (expression,) = [q for q in properties["Metrics"] if q.get("ReturnData", True)]
        inputs = {q["Id"] for q in properties["Metrics"] if "MetricStat" in q}
        assert inputs == set(re.findall(r"FILL\((\w+), 0\)", expression["Expression"])), logical_id
        assert (properties["ComparisonOperator"], properties["Threshold"]) == ("GreaterThanThreshold", 0)
        assert properties["TreatMissingData"] == "notBreaching"


def test_failed_alarms_watch_lambda_errors_and_the_failure_metric(translated: dict[str, Any]) -> None:
    for logical_id, function, failure in (
        ("BackupFailedAlarm", "<BackupFunction>", MetricName.BACKUP_FAILED),
        ("RestoreFailedAlarm", "<RestoreFunction>", MetricName.RESTORE_FAILED),
    ):
        metrics = alarm_metrics(alarm(translated, logical_id))
        assert Metric("AWS/Lambda", "Errors", {"FunctionName": function}, "Sum") in metrics
        assert Metric(NAMESPACE, failure.value, {SERVICE_DIMENSION: SERVICE_NAME}, "Sum") in metrics


def test_backup_missing_alarm_settings(translated: dict[str, Any]) -> None:
    properties = alarm(translated, "BackupMissingAlarm")
    assert alarm_metrics(properties) == [
        Metric(NAMESPACE, MetricName.BACKUP_SUCCEEDED.value, {SERVICE_DIMENSION: SERVICE_NAME}, "Sum")
    ]
    assert (properties["Period"], properties["EvaluationPeriods"], properties["DatapointsToAlarm"]) == (
        3600,
        26,
        26,
    )
    assert (properties["ComparisonOperator"], properties["Threshold"]) == ("LessThanThreshold", 1)
    assert properties["TreatMissingData"] == "breaching"


def test_near_timeout_alarm_is_80_percent_of_the_backup_timeout(translated: dict[str, Any]) -> None:
    properties = alarm(translated, "BackupNearTimeoutAlarm")
    assert alarm_metrics(properties) == [
        Metric("AWS/Lambda", "Duration", {"FunctionName": "<BackupFunction>"}, "Maximum")
    ]
    timeout_seconds = resolver(translated).resolve(
        translated["Resources"]["BackupFunction"]["Properties"]["Timeout"]
    )
    assert properties["Threshold"] == timeout_seconds * 1000 * 0.8
    assert properties["ComparisonOperator"] == "GreaterThanThreshold"


def test_item_drop_alarm_uses_the_parameter(translated: dict[str, Any]) -> None:
    properties = alarm(translated, "BackupItemDropAlarm")
    assert alarm_metrics(properties) == [
        Metric(
            NAMESPACE, MetricName.BACKUP_ITEM_DROP_PERCENT.value, {SERVICE_DIMENSION: SERVICE_NAME}, "Maximum"
        )
    ]
    assert translated["Resources"]["BackupItemDropAlarm"]["Properties"]["Threshold"] == {
        "Ref": "ItemDropAlarmPercent"
    }
    assert properties["ComparisonOperator"] == "GreaterThanThreshold"
    assert properties["TreatMissingData"] == "notBreaching"


def test_delivery_alarm_watches_the_scheduler_and_both_queues(translated: dict[str, Any]) -> None:
    metrics = alarm_metrics(alarm(translated, "DeliveryFailedAlarm"))
    group = {"ScheduleGroup": "<BackupScheduleGroup>"}
    assert set(map(repr, metrics)) == set(
        map(
            repr,
            [
                Metric("AWS/Scheduler", "InvocationDroppedCount", group, "Sum"),
                Metric("AWS/Scheduler", "InvocationsFailedToBeSentToDeadLetterCount", group, "Sum"),
                Metric(
                    "AWS/SQS",
                    "ApproximateNumberOfMessagesVisible",
                    {"QueueName": "<ScheduleDeadLetterQueue.QueueName>"},
                    "Maximum",
                ),
                Metric(
                    "AWS/SQS",
                    "ApproximateNumberOfMessagesVisible",
                    {"QueueName": "<FailedInvocationQueue.QueueName>"},
                    "Maximum",
                ),
            ],
        )
    )


def test_throttle_alarm_watches_both_functions(translated: dict[str, Any]) -> None:
    metrics = alarm_metrics(alarm(translated, "FunctionsThrottledAlarm"))
    assert metrics == [
        Metric("AWS/Lambda", "Throttles", {"FunctionName": "<BackupFunction>"}, "Sum"),
        Metric("AWS/Lambda", "Throttles", {"FunctionName": "<RestoreFunction>"}, "Sum"),
    ]


# ------------------------------------------------------------------------------------------------ dashboard
SEARCH = re.compile(r"SEARCH\('\{([^}]*)\} MetricName=\"(\w+)\"', '(\w+)', (\d+)\)")


@pytest.fixture(scope="module")
def dashboard(translated: dict[str, Any]) -> dict[str, Any]:
    body = resolver(translated).resolve(translated["Resources"]["Dashboard"]["Properties"]["DashboardBody"])
    return json.loads(body)  # type: ignore[no-any-return]


def search_expressions(dashboard: dict[str, Any]) -> list[tuple[str, list[str], str]]:
    found = []
    for widget in dashboard["widgets"]:
        for row in widget["properties"].get("metrics", []):
            for element in row:
                if isinstance(element, dict) and "expression" in element:
                    match = SEARCH.fullmatch(element["expression"])
                    assert match, element["expression"]
                    schema = [part.strip() for part in match.group(1).split(",")]
                    found.append((schema[0], schema[1:], match.group(2)))
    return found


def test_dashboard_searches_catalog_metrics_per_domain(dashboard: dict[str, Any], emitted: Emitted) -> None:
    searches = search_expressions(dashboard)
    per_domain = {SERVICE_DIMENSION, DOMAIN_DIMENSION}
    assert per_domain in [set(dimensions) for dimensions in emitted.dimension_sets]
    for namespace, dimension_names, metric_name in searches:
        assert namespace == NAMESPACE
        assert set(dimension_names) == per_domain
        assert metric_name in emitted.names
    assert {metric_name for *_, metric_name in searches} >= {
        MetricName.BACKUP_ITEMS,
        MetricName.BACKUP_ATTRIBUTES,
        MetricName.BACKUP_BYTES,
        MetricName.BACKUP_SUCCEEDED,
        MetricName.BACKUP_FAILED,
        MetricName.RESTORE_SUCCEEDED,
        MetricName.RESTORE_FAILED,
        MetricName.RESTORE_ITEMS_WRITTEN,
        MetricName.RESTORE_ITEMS_DELETED,
    }


def test_dashboard_duration_widget_marks_the_timeout(
    dashboard: dict[str, Any], translated: dict[str, Any]
) -> None:
    timeout_ms = (
        resolver(translated).resolve(translated["Resources"]["BackupFunction"]["Properties"]["Timeout"])
        * 1000
    )
    (widget,) = [
        w
        for w in dashboard["widgets"]
        if w["properties"].get("metrics", [[]])[0][:2] == ["AWS/Lambda", "Duration"]
    ]
    assert widget["properties"]["metrics"][0][2:4] == ["FunctionName", "<BackupFunction>"]
    assert timeout_ms in [a["value"] for a in widget["properties"]["annotations"]["horizontal"]]


def test_dashboard_lists_every_alarm(dashboard: dict[str, Any]) -> None:
    (widget,) = [w for w in dashboard["widgets"] if w["type"] == "alarm"]
    assert widget["properties"]["alarms"] == [f"<{logical_id}.Arn>" for logical_id in ALARMS]
