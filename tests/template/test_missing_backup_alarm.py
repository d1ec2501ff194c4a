"""BackupMissingAlarm behaves right for a healthy, a late, a stopped and a failing nightly schedule.

A small model of how CloudWatch evaluates a metric alarm, fed with hourly BackupSucceeded series. Everything
the model needs (period, evaluation periods, datapoints to alarm, threshold, comparison, missing-data
treatment) is read from the alarm in the transformed template, so changing the alarm changes the verdicts.
"""

import operator
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import pytest
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
    Sum of BackupSucceeded (hours absent from it have no datapoint). Returns the state after each hour."""
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


@pytest.fixture(scope="module")
def rule(translated: dict[str, Any]) -> AlarmRule:
    properties = resolver(translated).resolve(translated["Resources"]["BackupMissingAlarm"]["Properties"])
    return AlarmRule.from_properties(properties)


def test_model_follows_m_of_n_and_missing_data_rules() -> None:
    base = {"period": HOUR, "evaluation_periods": 3, "datapoints_to_alarm": 2, "threshold": 1}
    greater = AlarmRule(comparison="GreaterThanThreshold", treat_missing_data="notBreaching", **base)
    assert greater.evaluate([5, None, 0], OK) == OK  # 1 of 3 breaching
    assert greater.evaluate([5, 2, 0], OK) == ALARM  # 2 of 3
    assert (
        AlarmRule(comparison="GreaterThanThreshold", treat_missing_data="breaching", **base).evaluate(
            [5, None, 0], OK
        )
        == ALARM
    )
    assert (
        AlarmRule(comparison="GreaterThanThreshold", treat_missing_data="ignore", **base).evaluate(
            [None, None, None], ALARM
        )
        == ALARM
    )
    assert (
        AlarmRule(comparison="GreaterThanThreshold", treat_missing_data="missing", **base).evaluate(
            [None, None, None], OK
        )
        == INSUFFICIENT_DATA
    )


def test_before_the_first_backup_the_alarm_is_in_alarm(rule: AlarmRule) -> None:
    # A fresh stack alarms until its first successful backup (docs/RUNBOOK.md says to run one by hand).
    assert run(rule, {}, hours=2) == [ALARM, ALARM]


def test_healthy_nightly_schedule_stays_ok(rule: AlarmRule) -> None:
    states = run(rule, nightly(range(10)), hours=10 * 24)
    assert set(states[3:]) == {OK}  # from the first nightly success on


def test_several_domains_and_a_run_up_to_two_hours_late_stay_ok(rule: AlarmRule) -> None:
    datapoints = nightly(range(10), value=3, late={4: 2, 7: 1})
    assert set(run(rule, datapoints, hours=10 * 24)[3:]) == {OK}


def test_a_run_three_hours_late_alarms_until_it_arrives(rule: AlarmRule) -> None:
    states = run(rule, nightly(range(10), late={5: 3}), hours=10 * 24)
    assert [hour for hour, state in enumerate(states) if state == ALARM and hour >= 3] == [5 * 24 + 3 + 2]


def test_stopped_schedule_alarms_26_hours_after_the_last_success(rule: AlarmRule) -> None:
    last_success = 2 * 24 + 3
    states = run(rule, nightly(range(3)), hours=6 * 24)
    first_alarm = states.index(ALARM, 3)
    assert first_alarm == last_success + rule.evaluation_periods
    assert first_alarm - last_success == 26
    assert set(states[3:first_alarm]) == {OK}
    assert set(states[first_alarm:]) == {ALARM}


@pytest.mark.parametrize("failed_value", [None, 0], ids=["no-datapoint", "zero"])
def test_failing_schedule_alarms_like_a_stopped_one(rule: AlarmRule, failed_value: float | None) -> None:
    datapoints: dict[int, float] = dict(nightly(range(3)))
    if failed_value is not None:
        # The schedule keeps firing, the runs fail: BackupSucceeded reports 0 (or nothing at all).
        datapoints.update(nightly(range(3, 6), value=failed_value))
    states = run(rule, datapoints, hours=6 * 24)
    first_alarm = states.index(ALARM, 3)
    assert first_alarm == 2 * 24 + 3 + 26
    assert set(states[first_alarm:]) == {ALARM}


def test_recovery_returns_to_ok_with_the_next_success(rule: AlarmRule) -> None:
    datapoints = {**nightly(range(2)), **nightly(range(4, 6))}
    states = run(rule, datapoints, hours=6 * 24)
    assert states[4 * 24 + 2] == ALARM
    assert states[4 * 24 + 3] == OK
