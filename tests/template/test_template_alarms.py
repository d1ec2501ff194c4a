"""The alarms and the dashboard watch metrics the code really emits, per domain where that matters.

The custom metrics' names, namespace and dimension sets are not re-typed here: they come from
``simpledb_backup.observability`` and from the EMF record ``domain_metrics()`` actually prints.
"""

import json
import re
from pathlib import Path
from typing import Any, NamedTuple

import pytest
from cfnsupport import REPO_ROOT, STACK_NAME, THREE_DOMAINS, resolver, resources_of_type, translate

from simpledb_backup.observability import (
    DOMAIN_DIMENSION,
    NAMESPACE,
    SERVICE_DIMENSION,
    SERVICE_NAME,
    MetricName,
    domain_metrics,
)

CATALOG = {name.value for name in MetricName}

# Alarms of the whole stack, in the dashboard's order; then the conditional ones with their condition.
STACK_ALARMS = [
    "BackupFailedAlarm",
    "BackupNearTimeoutAlarm",
    "BackupItemDropAlarm",
    "RestoreFailedAlarm",
    "DeliveryFailedAlarm",
    "FunctionsThrottledAlarm",
]
CONDITIONAL_ALARMS = {
    "DrillFailedAlarm": "DrillsEnabled",
    "DrillsRunningAlarm": "DrillsEnabled",
    "ReplicationFailedAlarm": "HasReplication",
}
# Per domain (Fn::ForEach): logical id prefix -> (type, condition or None).
PER_DOMAIN = {
    "BackupMissingAlarm": ("AWS::CloudWatch::Alarm", None),
    "DrillStaleAlarm": ("AWS::CloudWatch::Alarm", "DrillsEnabled"),
    "DrillMissingAlarm": ("AWS::CloudWatch::CompositeAlarm", "DrillsEnabled"),
}
# Building blocks of the drill-missing composite alarms: they notify nobody.
SILENT = ("DrillStaleAlarm", "DrillsRunningAlarm")
SUFFIXES = {"packages": "packages", "repo-meta.v2": "repometav2", "build_cache": "buildcache"}
RUNBOOK = REPO_ROOT / "docs" / "RUNBOOK.md"
DESTINATION_ARN = "arn:aws:s3:::simpledb-backup-copy-eu"
ALL_ON = {**THREE_DOMAINS, "ReplicationDestinationBucketArn": DESTINATION_ARN}


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


@pytest.fixture(scope="module")
def everything() -> dict[str, Any]:
    """Three domains (with '-', '.' and '_'), drills on, replication on."""
    return translate(ALL_ON)


def alarm(
    template: dict[str, Any], logical_id: str, overrides: dict[str, Any] | None = None
) -> dict[str, Any]:
    return resolver(template, overrides).resolve(template["Resources"][logical_id]["Properties"])  # type: ignore[no-any-return]


def all_alarms(template: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return resources_of_type(template, "AWS::CloudWatch::Alarm") | resources_of_type(
        template, "AWS::CloudWatch::CompositeAlarm"
    )


def family(logical_id: str) -> str:
    """The alarm's kind: its logical id without the per-domain suffix."""
    for prefix in PER_DOMAIN:
        if logical_id.startswith(prefix):
            return prefix
    return logical_id


def alarm_metrics(properties: dict[str, Any]) -> list[Metric]:
    """Every metric an alarm reads: a single-metric alarm or each MetricStat of a metric-math alarm."""
    if "MetricName" in properties:
        dimensions = {d["Name"]: d["Value"] for d in properties.get("Dimensions", [])}
        return [
            Metric(properties["Namespace"], properties["MetricName"], dimensions, properties["Statistic"])
        ]
    metrics = []
    for query in properties.get("Metrics", []):
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


def test_every_alarm_is_accounted_for(everything: dict[str, Any]) -> None:
    found = all_alarms(everything)
    expected = set(STACK_ALARMS) | set(CONDITIONAL_ALARMS)
    expected |= {f"{prefix}{suffix}" for prefix in PER_DOMAIN for suffix in SUFFIXES.values()}
    assert set(found) == expected
    for logical_id, resource in found.items():
        condition = CONDITIONAL_ALARMS.get(logical_id) or PER_DOMAIN.get(family(logical_id), ("", None))[1]
        assert resource.get("Condition") == condition, logical_id
        if family(logical_id) in PER_DOMAIN:
            assert resource["Type"] == PER_DOMAIN[family(logical_id)][0]


def test_alarms_notify_the_topic_except_the_building_blocks(everything: dict[str, Any]) -> None:
    for logical_id in all_alarms(everything):
        properties = alarm(everything, logical_id, ALL_ON)
        if family(logical_id) in SILENT:
            assert "AlarmActions" not in properties, logical_id
            assert "OKActions" not in properties, logical_id
        else:
            assert properties["AlarmActions"] == ["<AlarmTopic>"], logical_id
            assert properties["OKActions"] == ["<AlarmTopic>"], logical_id


def test_alarm_names_are_unique_and_per_domain_names_carry_the_domain(everything: dict[str, Any]) -> None:
    names = {
        logical_id: alarm(everything, logical_id, ALL_ON)["AlarmName"]
        for logical_id in all_alarms(everything)
    }
    assert len(set(names.values())) == len(names)
    kinds = {
        "BackupMissingAlarm": "backup-missing",
        "DrillStaleAlarm": "drill-stale",
        "DrillMissingAlarm": "drill-missing",
    }
    for prefix, kind in kinds.items():
        for domain, suffix in SUFFIXES.items():
            assert names[f"{prefix}{suffix}"] == f"{STACK_NAME}-{kind}-{domain}"
    assert all(len(name) <= 255 for name in names.values())


def runbook_headings() -> list[str]:
    return [
        line.lstrip("#").strip() for line in Path(RUNBOOK).read_text().splitlines() if line.startswith("#")
    ]


def test_description_points_at_its_runbook_section(everything: dict[str, Any]) -> None:
    headings = runbook_headings()
    for logical_id in all_alarms(everything):
        description = alarm(everything, logical_id, ALL_ON)["AlarmDescription"]
        section = "DrillMissingAlarm" if family(logical_id) in SILENT else family(logical_id)
        assert f"docs/RUNBOOK.md#{section.lower()}" in description, logical_id
        assert len(description) <= 1024, logical_id  # CloudWatch's limit
        assert section in headings, f"docs/RUNBOOK.md has no section '{section}'"


def test_evaluation_ranges_are_within_cloudwatch_limits(everything: dict[str, Any]) -> None:
    """Period x EvaluationPeriods at most 7 days, and at most 1 day for periods under an hour."""
    for logical_id in resources_of_type(everything, "AWS::CloudWatch::Alarm"):
        properties = alarm(everything, logical_id, ALL_ON)
        periods = [int(properties["Period"])] if "Period" in properties else []
        periods += [
            int(q["MetricStat"]["Period"]) for q in properties.get("Metrics", []) if "MetricStat" in q
        ]
        for period in periods:
            span = period * int(properties["EvaluationPeriods"])
            assert span <= (604_800 if period >= 3600 else 86_400), logical_id
        assert int(properties.get("DatapointsToAlarm", properties["EvaluationPeriods"])) <= int(
            properties["EvaluationPeriods"]
        )


def test_custom_metrics_are_from_the_catalog_with_the_emitted_dimensions(
    everything: dict[str, Any], emitted: Emitted
) -> None:
    custom = [
        (logical_id, metric)
        for logical_id in resources_of_type(everything, "AWS::CloudWatch::Alarm")
        for metric in alarm_metrics(alarm(everything, logical_id, ALL_ON))
        if metric.namespace == NAMESPACE
    ]
    assert {metric.name for _, metric in custom} == {
        MetricName.BACKUP_FAILED,
        MetricName.BACKUP_SUCCEEDED,
        MetricName.BACKUP_ITEM_DROP_PERCENT,
        MetricName.RESTORE_FAILED,
        "DrillFailed",
        "DrillSucceeded",
    }
    for logical_id, metric in custom:
        assert metric.name in CATALOG, logical_id
        if family(logical_id) in PER_DOMAIN:
            # Exactly the per-domain set the code emits, for this alarm's own domain.
            domain = next(d for d, suffix in SUFFIXES.items() if logical_id.endswith(suffix))
            assert metric.dimensions == {SERVICE_DIMENSION: SERVICE_NAME, DOMAIN_DIMENSION: domain}, (
                logical_id
            )
            shape = {SERVICE_DIMENSION: SERVICE_NAME, DOMAIN_DIMENSION: "packages"}
        else:
            # Exactly the service-wide set the code emits (a metric with another set is a different metric).
            assert metric.dimensions == {SERVICE_DIMENSION: SERVICE_NAME}, logical_id
            shape = metric.dimensions
        assert shape in emitted.dimension_sets, logical_id
        if metric.name in {
            name.value for name in MetricName
        }:  # all of them once the catalog has the new ones
            assert metric.name in emitted.names, logical_id
    for logical_id in resources_of_type(everything, "AWS::CloudWatch::Alarm"):
        for metric in alarm_metrics(alarm(everything, logical_id, ALL_ON)):
            assert metric.namespace == NAMESPACE or metric.namespace.startswith("AWS/"), logical_id


def test_metric_math_uses_every_query(everything: dict[str, Any]) -> None:
    for logical_id in resources_of_type(everything, "AWS::CloudWatch::Alarm"):
        properties = alarm(everything, logical_id, ALL_ON)
        if "Metrics" not in properties:
            continue
        (expression,) = [q for q in properties["Metrics"] if q.get("ReturnData", True)]
        inputs = {q["Id"] for q in properties["Metrics"] if "MetricStat" in q}
        assert inputs == set(re.findall(r"FILL\((\w+), 0\)", expression["Expression"])), logical_id
        assert (properties["ComparisonOperator"], properties["Threshold"]) == ("GreaterThanThreshold", 0)
        assert properties["TreatMissingData"] == "notBreaching"


def test_failed_alarms_watch_lambda_errors_and_the_failure_metric(everything: dict[str, Any]) -> None:
    for logical_id, function, failure in (
        ("BackupFailedAlarm", "<BackupFunction>", MetricName.BACKUP_FAILED.value),
        ("RestoreFailedAlarm", "<RestoreFunction>", MetricName.RESTORE_FAILED.value),
        ("DrillFailedAlarm", "<DrillFunction>", "DrillFailed"),
    ):
        metrics = alarm_metrics(alarm(everything, logical_id, ALL_ON))
        assert Metric("AWS/Lambda", "Errors", {"FunctionName": function}, "Sum") in metrics
        assert Metric(NAMESPACE, failure, {SERVICE_DIMENSION: SERVICE_NAME}, "Sum") in metrics


def test_backup_missing_alarm_per_domain(everything: dict[str, Any], raw_template: dict[str, Any]) -> None:
    hours = raw_template["Mappings"]["Limits"]["Alarms"]["BackupMissingHours"]
    for domain, suffix in SUFFIXES.items():
        properties = alarm(everything, f"BackupMissingAlarm{suffix}", ALL_ON)
        assert alarm_metrics(properties) == [
            Metric(
                NAMESPACE,
                MetricName.BACKUP_SUCCEEDED.value,
                {SERVICE_DIMENSION: SERVICE_NAME, DOMAIN_DIMENSION: domain},
                "Sum",
            )
        ]
        assert (properties["Period"], properties["EvaluationPeriods"], properties["DatapointsToAlarm"]) == (
            3600,
            hours,
            hours,
        )
        assert (properties["ComparisonOperator"], properties["Threshold"]) == ("LessThanThreshold", 1)
        assert properties["TreatMissingData"] == "breaching"
        assert f"Domain {domain} " in properties["AlarmDescription"]
        assert f"last {hours} hours" in properties["AlarmDescription"]


def test_drill_missing_is_no_success_for_7_days_while_no_drill_runs(
    everything: dict[str, Any], raw_template: dict[str, Any]
) -> None:
    limits = raw_template["Mappings"]["Limits"]["Alarms"]
    for domain, suffix in SUFFIXES.items():
        stale = alarm(everything, f"DrillStaleAlarm{suffix}", ALL_ON)
        assert alarm_metrics(stale) == [
            Metric(
                NAMESPACE,
                "DrillSucceeded",
                {SERVICE_DIMENSION: SERVICE_NAME, DOMAIN_DIMENSION: domain},
                "Sum",
            )
        ]
        assert (stale["Period"], stale["EvaluationPeriods"], stale["DatapointsToAlarm"]) == (
            3600,
            limits["DrillWindowHours"],
            limits["DrillWindowHours"],
        )
        assert (stale["ComparisonOperator"], stale["Threshold"], stale["TreatMissingData"]) == (
            "LessThanThreshold",
            1,
            "breaching",
        )
        missing = alarm(everything, f"DrillMissingAlarm{suffix}", ALL_ON)
        assert missing["AlarmRule"] == (
            f'ALARM("<DrillStaleAlarm{suffix}>") AND NOT ALARM("<DrillsRunningAlarm>")'
        )
    running = alarm(everything, "DrillsRunningAlarm", ALL_ON)
    assert alarm_metrics(running) == [
        Metric("AWS/Scheduler", "InvocationAttemptCount", {"ScheduleGroup": "<DrillScheduleGroup>"}, "Sum")
    ]
    assert (running["Period"], running["EvaluationPeriods"], running["DatapointsToAlarm"]) == (
        3600,
        limits["DrillGraceHours"],
        1,
    )
    assert (running["ComparisonOperator"], running["Threshold"], running["TreatMissingData"]) == (
        "GreaterThanThreshold",
        0,
        "notBreaching",
    )


def test_drill_alarms_go_when_drills_are_off(everything: dict[str, Any]) -> None:
    off = resolver(everything, {**ALL_ON, "EnableRestoreDrills": "false"})
    on = resolver(everything, ALL_ON)
    for logical_id, resource in all_alarms(everything).items():
        if "Drill" in logical_id:
            assert not off.condition(resource["Condition"]), logical_id
            assert on.condition(resource["Condition"]), logical_id


def test_near_timeout_alarm_fires_on_an_overrun_not_on_the_planned_hand_over(
    translated: dict[str, Any],
) -> None:
    """A continued backup's invocation normally runs until the hand-over, timeout - margin (810 s), plus the
    call in flight; the alarm stays above that, with half the margin to spare, and below the timeout, so it
    fires for an invocation that overran its hand-over before Lambda kills it."""
    properties = alarm(translated, "BackupNearTimeoutAlarm")
    assert alarm_metrics(properties) == [
        Metric("AWS/Lambda", "Duration", {"FunctionName": "<BackupFunction>"}, "Maximum")
    ]
    function = translated["Resources"]["BackupFunction"]["Properties"]
    timeout_ms = resolver(translated).resolve(function["Timeout"]) * 1000
    margin_ms = (
        float(
            resolver(translated).resolve(function["Environment"]["Variables"]["CONTINUATION_MARGIN_SECONDS"])
        )
        * 1000
    )
    hand_over_ms = timeout_ms - margin_ms  # where every continued invocation normally ends
    assert properties["ComparisonOperator"] == "GreaterThanThreshold"
    assert properties["Threshold"] >= hand_over_ms + margin_ms / 2  # a planned hand-over never reaches it
    assert properties["Threshold"] < timeout_ms  # an overrun is seen before the timeout kills the invocation
    assert properties["Threshold"] == 855_000


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


def test_delivery_alarm_watches_both_schedule_groups_and_both_queues(translated: dict[str, Any]) -> None:
    metrics = alarm_metrics(alarm(translated, "DeliveryFailedAlarm"))
    expected = [
        Metric("AWS/Scheduler", name, {"ScheduleGroup": group}, "Sum")
        for group in ("<BackupScheduleGroup>", "<DrillScheduleGroup>")
        for name in ("InvocationDroppedCount", "InvocationsFailedToBeSentToDeadLetterCount")
    ] + [
        Metric(
            "AWS/SQS", "ApproximateNumberOfMessagesVisible", {"QueueName": f"<{queue}.QueueName>"}, "Maximum"
        )
        for queue in ("ScheduleDeadLetterQueue", "FailedInvocationQueue")
    ]
    assert sorted(map(repr, metrics)) == sorted(map(repr, expected))


def test_throttle_alarm_watches_the_backlog_not_the_expected_throttles(
    translated: dict[str, Any], raw_template: dict[str, Any]
) -> None:
    properties = alarm(translated, "FunctionsThrottledAlarm")
    assert alarm_metrics(properties) == [
        Metric("AWS/Lambda", "AsyncEventAge", {"FunctionName": "<BackupFunction>"}, "Maximum"),
        Metric("AWS/Lambda", "AsyncEventAge", {"FunctionName": "<DrillFunction>"}, "Maximum"),
        Metric("AWS/Lambda", "Throttles", {"FunctionName": "<RestoreFunction>"}, "Sum"),
    ]
    backlog = raw_template["Mappings"]["Limits"]["AsyncQueue"]["BacklogAlarmMillis"]
    (expression,) = [q["Expression"] for q in properties["Metrics"] if "Expression" in q]
    # Backup and drill throttles (more domains than BackupConcurrency) are not counted at all.
    assert f"IF(FILL(backupage, 0) > {backlog}, 1, 0)" in expression
    assert f"IF(FILL(drillage, 0) > {backlog}, 1, 0)" in expression
    # Every restore throttle counts: normal use never reaches its reserved concurrency (the test below).
    assert expression.endswith("+ FILL(restore, 0)")


#: How long a `status` answer takes at most (it reads one small state object and answers).
STATUS_CALL_SECONDS = 1.0
#: Restores an operator may run and follow at the same time (on different targets; one per target is the lock's).
FOLLOWED_RESTORES = 3


def test_following_restores_never_reaches_the_restore_functions_concurrency(
    translated: dict[str, Any],
) -> None:
    """Polling vs throttling: a running restore holds one execution, two for the moment its continuation
    starts while it finishes; the CLI following it calls `status` once per poll interval, each call holding an
    execution for well under that interval. Three restores followed at once stay within the reservation, so the
    throttle alarm (every restore throttle counts) fires only for real trouble."""
    from simpledb_backup_cli.deployed import DeployedFunctions

    poll_seconds = DeployedFunctions.POLL_SECONDS
    assert poll_seconds >= 5  # the CLI polls no more often than every 5 s (INTERFACES)
    followers_peak = -(-STATUS_CALL_SECONDS // poll_seconds)  # executions one follower holds at once
    per_restore = 2 + followers_peak
    reserved = resolver(translated).resolve(
        translated["Resources"]["RestoreFunction"]["Properties"]["ReservedConcurrentExecutions"]
    )
    assert FOLLOWED_RESTORES * per_restore <= reserved


def test_replication_alarm_watches_the_replication_rule(everything: dict[str, Any]) -> None:
    properties = alarm(everything, "ReplicationFailedAlarm", ALL_ON)
    (rule,) = resolver(everything, ALL_ON).resolve(everything["Resources"]["BackupBucket"]["Properties"])[
        "ReplicationConfiguration"
    ]["Rules"]
    assert properties["AlarmName"] == f"{STACK_NAME}-replication-failed"
    assert alarm_metrics(properties) == [
        Metric(
            "AWS/S3",
            "OperationsFailedReplication",
            {
                "SourceBucket": "<BackupBucket>",
                "DestinationBucket": "simpledb-backup-copy-eu",
                "RuleId": rule["Id"],
            },
            "Sum",
        )
    ]
    assert (properties["ComparisonOperator"], properties["Threshold"]) == ("GreaterThanThreshold", 0)
    assert properties["TreatMissingData"] == "notBreaching"


# ------------------------------------------------------------------------------------------------ dashboard
SEARCH = re.compile(r"SEARCH\('\{([^}]*)\} MetricName=\"(\w+)\"', '(\w+)', (\d+)\)")


def dashboard_of(template: dict[str, Any], overrides: dict[str, Any] | None = None) -> dict[str, Any]:
    body = resolver(template, overrides).resolve(
        template["Resources"]["Dashboard"]["Properties"]["DashboardBody"]
    )
    return json.loads(body)  # type: ignore[no-any-return]


@pytest.fixture(scope="module")
def dashboard(translated: dict[str, Any]) -> dict[str, Any]:
    return dashboard_of(translated)


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
        assert metric_name in CATALOG
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
        "BackupSkipped",
        "DrillSucceeded",
        "DrillFailed",
        "DrillDuration",
        "DrillItems",
    }


def widget_metrics(dashboard: dict[str, Any], namespace: str, name: str) -> list[list[Any]]:
    return [
        row
        for widget in dashboard["widgets"]
        for row in widget["properties"].get("metrics", [])
        if row[:2] == [namespace, name]
    ]


def test_dashboard_shows_each_dump_not_a_daily_maximum(dashboard: dict[str, Any]) -> None:
    """Values that describe one dump (or one drill) are drawn per minute: each dump is its own point, so the
    night a domain lost items shows even when a manual dump the same day had them."""
    per_dump = {
        MetricName.BACKUP_ITEMS,
        MetricName.BACKUP_ATTRIBUTES,
        MetricName.BACKUP_BYTES,
        MetricName.DRILL_ITEMS,
    }
    seen = set()
    for widget in dashboard["widgets"]:
        for row in widget["properties"].get("metrics", []):
            for element in row:
                expression = element.get("expression", "") if isinstance(element, dict) else ""
                match = SEARCH.fullmatch(expression)
                if match and match.group(2) in per_dump:
                    seen.add(match.group(2))
                    assert int(match.group(4)) == widget["properties"]["period"] == 60, widget["properties"][
                        "title"
                    ]
    assert seen == {name.value for name in per_dump}


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


def test_dashboard_shows_the_queue_against_the_throttle_alarm(
    dashboard: dict[str, Any], raw_template: dict[str, Any]
) -> None:
    rows = widget_metrics(dashboard, "AWS/Lambda", "AsyncEventAge")
    assert [row[2:4] for row in rows] == [
        ["FunctionName", "<BackupFunction>"],
        ["FunctionName", "<DrillFunction>"],
    ]
    (widget,) = [w for w in dashboard["widgets"] if "AsyncEventAge" in json.dumps(w)]
    backlog = raw_template["Mappings"]["Limits"]["AsyncQueue"]["BacklogAlarmMillis"]
    assert [a["value"] for a in widget["properties"]["annotations"]["horizontal"]] == [backlog]


def alarm_widget(dashboard: dict[str, Any]) -> list[str]:
    (widget,) = [w for w in dashboard["widgets"] if w["type"] == "alarm"]
    return widget["properties"]["alarms"]  # type: ignore[no-any-return]


def test_dashboard_lists_every_stack_wide_alarm_that_exists(everything: dict[str, Any]) -> None:
    stack_alarms = [f"<{logical_id}.Arn>" for logical_id in STACK_ALARMS]
    assert alarm_widget(dashboard_of(everything, ALL_ON)) == [
        *stack_alarms,
        "<DrillFailedAlarm.Arn>",
        "<ReplicationFailedAlarm.Arn>",
    ]
    assert alarm_widget(dashboard_of(everything, THREE_DOMAINS)) == [*stack_alarms, "<DrillFailedAlarm.Arn>"]
    off = {**THREE_DOMAINS, "EnableRestoreDrills": "false"}
    assert alarm_widget(dashboard_of(everything, off)) == stack_alarms


def test_dashboard_replication_widget_only_with_replication(everything: dict[str, Any]) -> None:
    assert widget_metrics(dashboard_of(everything, THREE_DOMAINS), "AWS/S3", "ReplicationLatency") == []
    with_copy = dashboard_of(everything, ALL_ON)
    for name in ("ReplicationLatency", "OperationsPendingReplication", "OperationsFailedReplication"):
        (row,) = widget_metrics(with_copy, "AWS/S3", name)
        assert row[2:8] == [
            "SourceBucket",
            "<BackupBucket>",
            "DestinationBucket",
            "simpledb-backup-copy-eu",
            "RuleId",
            "ReplicateDumps",
        ]
