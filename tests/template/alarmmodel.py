"""A small model of how CloudWatch evaluates metric alarms and composite alarms, for hourly series.

Everything a metric alarm's verdict depends on (period, evaluation periods, datapoints to alarm, threshold,
comparison, missing-data treatment) is read from the alarm's properties in the transformed template, so changing
an alarm changes the verdicts. Used by test_missing_backup_alarm.py and test_drill_missing_alarm.py.
"""

import operator
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from cfnsupport import resolver

OK, ALARM, INSUFFICIENT_DATA = "OK", "ALARM", "INSUFFICIENT_DATA"
HOUR = 3600
COMPARISONS: dict[str, Callable[[float, float], bool]] = {
    "GreaterThanThreshold": operator.gt,
    "GreaterThanOrEqualToThreshold": operator.ge,
    "LessThanThreshold": operator.lt,
    "LessThanOrEqualToThreshold": operator.le,
}


@dataclass(frozen=True)
class AlarmRule:
    """The parts of an AWS::CloudWatch::Alarm that decide its state."""

    period: int
    evaluation_periods: int
    datapoints_to_alarm: int
    threshold: float
    comparison: str
    treat_missing_data: str

    @classmethod
    def from_properties(cls, properties: Mapping[str, Any]) -> "AlarmRule":
        return cls(
            period=int(properties["Period"]),
            evaluation_periods=int(properties["EvaluationPeriods"]),
            datapoints_to_alarm=int(properties.get("DatapointsToAlarm", properties["EvaluationPeriods"])),
            threshold=float(properties["Threshold"]),
            comparison=properties["ComparisonOperator"],
            treat_missing_data=properties.get("TreatMissingData", "missing"),
        )

    def breaches(self, value: float) -> bool:
        return COMPARISONS[self.comparison](value, self.threshold)

    def evaluate(self, window: Sequence[float | None], previous_state: str) -> str:
        """One evaluation: ``window`` holds the last ``evaluation_periods`` datapoints, oldest first, ``None``
        where the metric has no datapoint in that period.

        CloudWatch's "M out of N" rule: ALARM when at least M (DatapointsToAlarm) of the N periods breach,
        otherwise OK. A missing period counts as breaching (``breaching``) or not (``notBreaching``); with
        ``ignore`` or ``missing`` it is left out, and a window with no datapoint at all keeps the previous
        state (``ignore``) or goes to INSUFFICIENT_DATA (``missing``). (Real CloudWatch may look further back
        for datapoints in the last two cases; this model does not need that, the alarm under test uses
        ``breaching``.)
        """
        assert len(window) == self.evaluation_periods
        breaching = 0
        present = 0
        for value in window:
            if value is None:
                if self.treat_missing_data == "breaching":
                    breaching += 1
                continue
            present += 1
            breaching += self.breaches(value)
        if present == 0 and self.treat_missing_data in ("ignore", "missing"):
            return previous_state if self.treat_missing_data == "ignore" else INSUFFICIENT_DATA
        return ALARM if breaching >= self.datapoints_to_alarm else OK


def run(rule: AlarmRule, datapoints: Mapping[int, float], hours: int) -> list[str]:
    """Evaluate the alarm at the end of every hour 0..hours-1; ``datapoints`` maps an hour to the period's
    Sum of the metric (hours absent from it have no datapoint). Returns the state after each hour."""
    assert rule.period == HOUR, "the series below are hourly"
    states: list[str] = []
    state = INSUFFICIENT_DATA
    for now in range(hours):
        window = [datapoints.get(hour) for hour in range(now - rule.evaluation_periods + 1, now + 1)]
        state = rule.evaluate(window, state)
        states.append(state)
    return states


def nightly(
    days: range, hour_of_day: int = 3, value: float = 1, late: Mapping[int, int] | None = None
) -> dict[int, float]:
    """One datapoint per night at ``hour_of_day`` (``late`` shifts given days by some hours)."""
    late = late or {}
    return {day * 24 + hour_of_day + late.get(day, 0): value for day in days}


def rule_of(
    template: Mapping[str, Any], logical_id: str, overrides: Mapping[str, Any] | None = None
) -> AlarmRule:
    """The AlarmRule of a metric alarm of the transformed template, for the given parameter values."""
    properties = resolver(template, overrides).resolve(template["Resources"][logical_id]["Properties"])
    return AlarmRule.from_properties(properties)
