"""pytest plugin (tests/conftest.py loads it): every test's function calls are checked against the policies of
the deployment the functions ran in. A call the template does not allow fails the test that made it, naming the
function, the call, the IAM request and the decision, so a permission missing for a new call fails
``make test`` wherever the suite exercises it (tests/iamcheck/test_iam_sufficiency.py adds the deployments the
tests cannot show: a KMS key, replication, Object Lock)."""

from collections.abc import Iterator

import pytest

from iamcheck.recorder import RECORDER, RecordedCall

RECORDER.install()


def denied_calls(calls: list[RecordedCall]) -> list[str]:
    """One line per call the deployment it ran in would refuse (the default variant: what the tests run)."""
    from iamcheck.deployment import deployment
    from iamcheck.simulator import decide

    findings: list[str] = []
    for call in dict.fromkeys(calls):
        for decision in decide(deployment(call.environment), call):
            if not decision.allowed:
                findings.append(
                    f"{call.function}: {call.operation} needs {decision.request.action} on "
                    f"{decision.request.resource} {decision.request.context_dict() or ''}: {decision.decision}"
                    + (f" {decision.denies}" if decision.denies else "")
                    + (f" {decision.errors}" if decision.errors else "")
                )
    return findings


@pytest.fixture(autouse=True)
def _iam_allows_every_call() -> Iterator[None]:
    """Checks, after the test, the calls its functions made (none: nothing to do)."""
    RECORDER.clear()
    yield
    calls, errors = RECORDER.calls(), list(RECORDER.errors)
    RECORDER.clear()
    findings = errors + (denied_calls(calls) if calls else [])
    if findings:
        pytest.fail(
            "template.yaml does not allow every AWS call the functions made (tests/iamcheck):\n  "
            + "\n  ".join(dict.fromkeys(findings)),
            pytrace=False,
        )
