"""The drill-missing alarms work with the default weekly drill schedule.

CloudWatch evaluates at most 7 days, exactly the interval of a weekly schedule, so "no success in the last 7
days" alone (DrillStaleAlarm) goes to ALARM for a while whenever a domain's drill finishes later in the day than
the week before (queued behind other domains, slower SimpleDB). The composite DrillMissingAlarm therefore also
asks that no drill schedule fired within the last DrillGraceHours (DrillsRunningAlarm). This models both metric
alarms with tests/template/alarmmodel.py and the composite's rule as the template writes it, and what reaches
the topic: DrillsRunningAlarm is also the composite's actions suppressor, so the composite announces its state
only once the drills' grace is over.
"""

import re
from collections.abc import Mapping
from typing import Any

import pytest
from alarmmodel import ALARM, OK, rule_of, run
from cfnsupport import THREE_DOMAINS, resolver, translate

WEEK = 7 * 24
FIRES_AT = 5  # cron(0 5 ? * SUN *): hour 5 of every week, weeks starting on Sunday 00:00
RULE = re.compile(r'ALARM\("<(\w+)>"\) AND NOT ALARM\("<(\w+)>"\)')


@pytest.fixture(scope="module")
def template() -> dict[str, Any]:
    return translate(THREE_DOMAINS)


class DrillAlarms:
    """The three alarms behind one domain's drill-missing notification, read from the template."""

    def __init__(self, template: Mapping[str, Any], suffix: str) -> None:
        composite = resolver(template, THREE_DOMAINS).resolve(
            template["Resources"][f"DrillMissingAlarm{suffix}"]["Properties"]
        )
        match = RULE.fullmatch(composite["AlarmRule"])
        assert match, composite["AlarmRule"]
        self.stale = rule_of(template, match.group(1), THREE_DOMAINS)
        self.running = rule_of(template, match.group(2), THREE_DOMAINS)
        assert match.group(1) == f"DrillStaleAlarm{suffix}"
        assert match.group(2) == "DrillsRunningAlarm"
        assert composite["ActionsSuppressor"] == "<DrillsRunningAlarm.Arn>"

    def states(
        self, successes: Mapping[int, float], firings: Mapping[int, float], hours: int
    ) -> tuple[list[str], list[str]]:
        """(stale states, composite states) at the end of each hour."""
        stale = run(self.stale, successes, hours)
        running = run(self.running, firings, hours)
        missing = [ALARM if s == ALARM and r != ALARM else OK for s, r in zip(stale, running, strict=True)]
        return stale, missing

    def notifications(
        self, successes: Mapping[int, float], firings: Mapping[int, float], hours: int
    ) -> list[tuple[int, str]]:
        """(hour, state) of what reaches the topic. While the suppressor (DrillsRunningAlarm) is in ALARM the
        composite performs no actions; once it is out of ALARM (plus the extension period, under an hour) the
        composite performs the actions of the state it is in, if that state is not the one last announced."""
        _, missing = self.states(successes, firings, hours)
        running = run(self.running, firings, hours)
        announced: list[tuple[int, str]] = []
        for hour, state in enumerate(missing):
            last = announced[-1][1] if announced else None
            if state != last and running[hour] != ALARM:
                announced.append((hour, state))
        return announced


@pytest.fixture(scope="module")
def packages(template: dict[str, Any]) -> DrillAlarms:
    return DrillAlarms(template, "packages")


def weekly(weeks: range, hour: int = FIRES_AT, delays: Mapping[int, int] | None = None) -> dict[int, float]:
    """One datapoint per week at ``hour``, the given weeks shifted by ``delays`` hours."""
    delays = delays or {}
    return {week * WEEK + hour + delays.get(week, 0): 1 for week in weeks}


def test_the_window_is_the_longest_cloudwatch_evaluates(packages: DrillAlarms) -> None:
    assert packages.stale.period * packages.stale.evaluation_periods == 604_800
    assert packages.running.evaluation_periods == 12


def test_drills_finishing_at_different_hours_never_notify(packages: DrillAlarms) -> None:
    # Queued behind other domains (up to 6 hours) and running: done 0 to 11 hours after the schedule fired.
    delays = {0: 0, 1: 11, 2: 1, 3: 9, 4: 3, 5: 11, 6: 0, 7: 10}
    stale, missing = packages.states(weekly(range(8), delays=delays), weekly(range(8)), hours=8 * WEEK)
    assert set(missing[FIRES_AT:]) == {OK}
    announced = packages.notifications(weekly(range(8), delays=delays), weekly(range(8)), hours=8 * WEEK)
    # Only a fresh stack's ALARM (no drill yet) and the OK after its first drill's grace.
    assert announced == [(0, ALARM), (FIRES_AT + packages.running.evaluation_periods, OK)]
    # Stale alone would have gone to ALARM in the weeks that finished later than the week before.
    assert ALARM in stale[FIRES_AT + 1 :]


def test_stopped_drills_notify_7_days_after_the_last_success(packages: DrillAlarms) -> None:
    last_success = 2 * WEEK + FIRES_AT
    _, missing = packages.states(weekly(range(3)), weekly(range(3)), hours=5 * WEEK)
    first_alarm = missing.index(ALARM, FIRES_AT)
    assert first_alarm == last_success + WEEK
    assert set(missing[first_alarm:]) == {ALARM}


def test_drills_that_keep_failing_notify_once_the_grace_after_firing_is_over(packages: DrillAlarms) -> None:
    # The schedule fires every week, but from week 2 on the domain's drill never succeeds.
    grace = packages.running.evaluation_periods
    _, missing = packages.states(weekly(range(2)), weekly(range(5)), hours=5 * WEEK)
    first_alarm = missing.index(ALARM, FIRES_AT)
    assert first_alarm == 2 * WEEK + FIRES_AT + grace
    # Each later firing gives the drills their grace again (OK meanwhile), then ALARM again.
    for week in (3, 4):
        assert set(missing[week * WEEK + FIRES_AT : week * WEEK + FIRES_AT + grace]) == {OK}
        assert missing[week * WEEK + FIRES_AT + grace] == ALARM
    # What the topic hears: one ALARM. The OKs during each week's grace are never announced.
    announced = packages.notifications(weekly(range(2)), weekly(range(5)), hours=5 * WEEK)
    assert announced[-1] == (2 * WEEK + FIRES_AT + grace, ALARM)
    assert [state for _, state in announced] == [ALARM, OK, ALARM]  # the fresh stack's, its first drill's


def test_recovery_by_the_next_scheduled_drill_is_announced(packages: DrillAlarms) -> None:
    grace = packages.running.evaluation_periods
    successes = {**weekly(range(2)), **weekly(range(3, 5))}  # week 2's drill failed, week 3's succeeded
    announced = packages.notifications(successes, weekly(range(5)), hours=5 * WEEK)
    assert announced[-2:] == [(2 * WEEK + FIRES_AT + grace, ALARM), (3 * WEEK + FIRES_AT + grace, OK)]


def test_a_drill_later_than_the_grace_notifies_until_it_succeeds(packages: DrillAlarms) -> None:
    # The design's limit: a drill done more than 12 hours after firing, and later than the week before.
    late = packages.running.evaluation_periods + 2
    _, missing = packages.states(weekly(range(4), delays={2: late}), weekly(range(4)), hours=4 * WEEK)
    alarmed = [hour for hour, state in enumerate(missing) if state == ALARM and hour > FIRES_AT]
    grace_over = 2 * WEEK + FIRES_AT + packages.running.evaluation_periods
    assert alarmed == list(range(grace_over, 2 * WEEK + FIRES_AT + late))


def test_one_domain_failing_notifies_only_for_that_domain(template: dict[str, Any]) -> None:
    firings = weekly(range(4))
    successes = {"packages": weekly(range(4)), "repometav2": weekly(range(1)), "buildcache": weekly(range(4))}
    verdicts = {
        suffix: DrillAlarms(template, suffix).states(series, firings, hours=4 * WEEK)[1]
        for suffix, series in successes.items()
    }
    assert set(verdicts["packages"][FIRES_AT:]) == {OK}
    assert set(verdicts["buildcache"][FIRES_AT:]) == {OK}
    assert verdicts["repometav2"].index(ALARM, FIRES_AT) == WEEK + FIRES_AT + 12


def test_a_fresh_stack_notifies_until_its_first_drill(packages: DrillAlarms) -> None:
    # docs/RUNBOOK.md: after the first deployment, run a backup and then a drill by hand.
    _, missing = packages.states({}, {}, hours=3)
    assert missing == [ALARM, ALARM, ALARM]
