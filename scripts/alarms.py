"""Print the deployed stack's CloudWatch alarms with state, reason and last change (`make alarms`).

The alarms are found through CloudFormation (the stack's AWS::CloudWatch::Alarm and CompositeAlarm resources), so the
list is exactly what template.yaml deployed, whatever the alarms are called. Alarms in ALARM come first.

    python scripts/alarms.py --stack-name simpledb-backup [--region eu-west-1]

Exit status: 0 when the table was printed, 2 when the stack does not exist or no credentials/region are set.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import boto3
from botocore.exceptions import ClientError

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "local"))
from awserrors import report_aws_errors

#: Metric alarms, and the composite alarms (a domain's drill-missing alarm) built on them.
ALARM_RESOURCE_TYPES = {"AWS::CloudWatch::Alarm", "AWS::CloudWatch::CompositeAlarm"}
STATE_ORDER = {"ALARM": 0, "INSUFFICIENT_DATA": 1, "OK": 2}
DESCRIBE_BATCH = 100  # DescribeAlarms accepts at most 100 names
REASON_WIDTH = 100


class AlarmsError(Exception):
    """A problem the user can fix (printed without a traceback)."""


@dataclass(frozen=True)
class AlarmRow:
    name: str
    state: str
    reason: str
    updated: datetime | None


def alarm_names(cloudformation: Any, stack_name: str) -> list[str]:
    """Physical ids (= alarm names) of the stack's metric and composite alarms."""
    names: list[str] = []
    try:
        for page in cloudformation.get_paginator("list_stack_resources").paginate(StackName=stack_name):
            names.extend(
                summary["PhysicalResourceId"]
                for summary in page["StackResourceSummaries"]
                if summary.get("ResourceType") in ALARM_RESOURCE_TYPES and summary.get("PhysicalResourceId")
            )
    except ClientError as error:
        message = error.response.get("Error", {}).get("Message", "")
        if error.response.get("Error", {}).get("Code") == "ValidationError" and "does not exist" in message:
            raise AlarmsError(
                f"stack '{stack_name}' does not exist in {cloudformation.meta.region_name} "
                "(check --stack-name / STACK_NAME and the region)"
            ) from error
        raise
    return names


def describe(cloudwatch: Any, names: Sequence[str]) -> list[AlarmRow]:
    """Current state of the named alarms; a name CloudWatch does not know shows as MISSING."""
    found: dict[str, AlarmRow] = {}
    for start in range(0, len(names), DESCRIBE_BATCH):
        batch = list(names[start : start + DESCRIBE_BATCH])
        response = cloudwatch.describe_alarms(AlarmNames=batch, AlarmTypes=["MetricAlarm", "CompositeAlarm"])
        for alarm in response.get("MetricAlarms", []) + response.get("CompositeAlarms", []):
            found[alarm["AlarmName"]] = AlarmRow(
                name=alarm["AlarmName"],
                state=alarm["StateValue"],
                reason=alarm.get("StateReason", ""),
                updated=alarm.get("StateUpdatedTimestamp"),
            )
    rows = [
        found.get(name, AlarmRow(name, "MISSING", "listed in the stack, unknown to CloudWatch", None))
        for name in names
    ]
    return sorted(rows, key=lambda row: (STATE_ORDER.get(row.state, -1), row.name))


def _since(updated: datetime | None) -> str:
    if updated is None:
        return "-"
    return updated.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")


def _shorten(text: str, width: int) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= width else flat[: width - 1] + "…"


def format_table(rows: Iterable[AlarmRow], stack_name: str) -> str:
    rows = list(rows)
    if not rows:
        return f"Stack {stack_name} has no CloudWatch alarms."
    table = [("STATE", "ALARM", "LAST CHANGE", "REASON")]
    table += [(row.state, row.name, _since(row.updated), _shorten(row.reason, REASON_WIDTH)) for row in rows]
    widths = [max(len(line[column]) for line in table) for column in range(3)]
    lines = [
        "  ".join(cell.ljust(width) for cell, width in zip(line[:3], widths, strict=True)) + "  " + line[3]
        for line in table
    ]
    counts = {
        state: sum(row.state == state for row in rows) for state in ("ALARM", "INSUFFICIENT_DATA", "OK")
    }
    summary = ", ".join(f"{count} {state}" for state, count in counts.items() if count)
    return "\n".join([f"Alarms of stack {stack_name}: {summary}", "", *lines])


def main(argv: Sequence[str] | None = None, session: boto3.Session | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--stack-name", required=True)
    parser.add_argument("--region", help="defaults to the AWS CLI/SDK configuration (AWS_REGION, profile)")
    args = parser.parse_args(argv)
    session = session or boto3.Session(region_name=args.region)

    def show_alarms() -> int:
        cloudformation = session.client("cloudformation", region_name=args.region)
        cloudwatch = session.client("cloudwatch", region_name=args.region)
        rows = describe(cloudwatch, alarm_names(cloudformation, args.stack_name))
        print(format_table(rows, args.stack_name))
        return 0

    return report_aws_errors(show_alarms, AlarmsError)


if __name__ == "__main__":
    sys.exit(main())
