"""The per-domain BackupMissingAlarm behaves right for a healthy, a late, a stopped and a failing nightly
schedule, and for one failing domain among healthy ones: tests/template/alarmmodel.py fed with hourly
BackupSucceeded series of one domain.
"""

from typing import Any

import pytest
from alarmmodel import ALARM, HOUR, INSUFFICIENT_DATA, OK, AlarmRule, nightly, rule_of, run
from cfnsupport import THREE_DOMAINS, translate


@pytest.fixture(scope="module")
def three_domains() -> dict[str, Any]:
    return translate(THREE_DOMAINS)


@pytest.fixture(scope="module")
def rule(translated: dict[str, Any]) -> AlarmRule:
    return rule_of(translated, "BackupMissingAlarmpackages")


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


def test_a_domain_queued_behind_others_stays_ok(rule: AlarmRule) -> None:
    """More domains than BackupConcurrency: a domain may wait up to 6 hours in Lambda's queue, and the
    scheduler's retries and the run take up to 2 more. First one night, last the next: still OK."""
    slack = rule.evaluation_periods - 24
    assert slack == 8
    datapoints = nightly(range(10), late={2: slack, 4: slack, 5: 1, 7: slack})
    assert set(run(rule, datapoints, hours=10 * 24)[3:]) == {OK}


def test_a_run_later_than_the_queue_allows_alarms_until_it_arrives(rule: AlarmRule) -> None:
    late = rule.evaluation_periods - 24 + 1
    states = run(rule, nightly(range(10), late={5: late}), hours=10 * 24)
    alarmed = [hour for hour, state in enumerate(states) if state == ALARM and hour >= 3]
    assert alarmed == [4 * 24 + 3 + rule.evaluation_periods]
    assert states[5 * 24 + 3 + late] == OK


def test_stopped_schedule_alarms_32_hours_after_the_last_success(rule: AlarmRule) -> None:
    last_success = 2 * 24 + 3
    states = run(rule, nightly(range(3)), hours=6 * 24)
    first_alarm = states.index(ALARM, 3)
    assert first_alarm == last_success + rule.evaluation_periods
    assert first_alarm - last_success == 32
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
    assert first_alarm == 2 * 24 + 3 + 32
    assert set(states[first_alarm:]) == {ALARM}


def test_one_failing_domain_alarms_while_the_others_succeed(three_domains: dict[str, Any]) -> None:
    """The old service-wide alarm stayed OK as long as any domain succeeded; each domain has its own now."""
    series = {
        "packages": nightly(range(6)),
        "repometav2": nightly(range(2)),  # fails from the third night on
        "buildcache": nightly(range(6), late={3: 5}),
    }
    states = {
        suffix: run(rule_of(three_domains, f"BackupMissingAlarm{suffix}", THREE_DOMAINS), datapoints, 6 * 24)
        for suffix, datapoints in series.items()
    }
    assert set(states["packages"][3:]) == {OK}
    assert set(states["buildcache"][3:]) == {OK}
    first_alarm = states["repometav2"].index(ALARM, 3)
    assert first_alarm == 1 * 24 + 3 + 32
    assert set(states["repometav2"][first_alarm:]) == {ALARM}


def test_recovery_returns_to_ok_with_the_next_success(rule: AlarmRule) -> None:
    datapoints = {**nightly(range(2)), **nightly(range(4, 6))}
    states = run(rule, datapoints, hours=6 * 24)
    assert states[4 * 24 + 2] == ALARM
    assert states[4 * 24 + 3] == OK
