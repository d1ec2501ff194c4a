"""The policy evaluator: @cloud-copilot/iam-simulate (pinned in simulator/package-lock.json, installed by
``make setup`` with ``npm ci``), run by the machine's Node.js as one long-lived process per test process.

It evaluates a request as AWS does: identity policies and the resource's policy (the bucket policy, a key
policy), explicit denies, every condition operator, same-account rules (KMS needs its key policy to allow or
delegate). Python only builds the requests and reads the decisions.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import threading
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from iamcheck.deployment import Deployment, NamedPolicy
from iamcheck.recorder import RecordedCall
from iamcheck.requests import ACCOUNT_ID, REGION, IamRequest

SIMULATOR = Path(__file__).resolve().parent / "simulator"
SCRIPT = SIMULATOR / "simulate.mjs"


class SimulatorMissingError(RuntimeError):
    """Node.js or the pinned simulator is not installed (``make setup`` installs it)."""


@dataclass(frozen=True)
class Decision:
    """The simulator's answer for one request under one deployment."""

    request: IamRequest
    decision: str  # Allowed, ExplicitlyDenied, ImplicitlyDenied
    #: (policy name, statement Sid or 1-based index) of every identity statement that allowed it.
    identity_allows: tuple[tuple[str, str], ...]
    #: ("identity" | "resource", policy name, statement) of every matching Deny.
    denies: tuple[tuple[str, str, str], ...]
    errors: str | None

    @property
    def allowed(self) -> bool:
        return self.decision == "Allowed" and self.errors is None


class Simulator:
    """One ``node simulate.mjs`` process; requests are answered in order, one line each."""

    def __init__(self) -> None:
        node = shutil.which("node")
        if node is None or not (SIMULATOR / "node_modules" / "@cloud-copilot" / "iam-simulate").is_dir():
            raise SimulatorMissingError(
                "the IAM policy simulator is not installed: run `make setup` (npm ci in tests/iamcheck/simulator)"
            )
        self._process = subprocess.Popen(
            [node, str(SCRIPT)],
            cwd=SIMULATOR,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            bufsize=1,
        )
        self._lock = threading.Lock()
        self._cache: dict[str, dict[str, Any]] = {}

    def run(self, simulation: dict[str, Any]) -> dict[str, Any]:
        line = json.dumps({"simulation": simulation}, sort_keys=True)
        with self._lock:
            if line not in self._cache:
                assert self._process.stdin is not None
                assert self._process.stdout is not None
                self._process.stdin.write(line + "\n")
                self._process.stdin.flush()
                answer = self._process.stdout.readline()
                if not answer:
                    raise RuntimeError("the IAM simulator stopped")
                self._cache[line] = json.loads(answer)
            return self._cache[line]

    def close(self) -> None:
        if self._process.stdin is not None:
            self._process.stdin.close()
        self._process.wait(timeout=10)


@cache
def simulator() -> Simulator:
    return Simulator()


def principal_simulation(
    principal: str,
    principal_arn: str,
    identity: tuple[NamedPolicy, ...],
    request: IamRequest,
    resource_policy: dict[str, Any] | None,
) -> dict[str, Any]:
    """The iam-simulate Simulation of ``request`` by ``principal`` (a role session: ``principal_arn`` is its
    role) with these identity policies, against the resource's policy."""
    context = {
        "aws:PrincipalArn": principal_arn,
        "aws:PrincipalAccount": ACCOUNT_ID,
        "aws:PrincipalType": "AssumedRole",
        "aws:SecureTransport": "true",
        "aws:RequestedRegion": REGION,
        **request.context_dict(),
    }
    simulated: dict[str, Any] = {
        "identityPolicies": [{"name": policy.name, "policy": policy.document} for policy in identity],
        "serviceControlPolicies": [],
        "resourceControlPolicies": [],
        "request": {
            "action": request.action,
            "principal": principal,
            "resource": {"accountId": ACCOUNT_ID, "resource": request.resource},
            "contextVariables": context,
        },
    }
    if resource_policy is not None:
        simulated["resourcePolicy"] = resource_policy
    return simulated


def simulation(deployment: Deployment, function: str, request: IamRequest) -> dict[str, Any]:
    """The iam-simulate Simulation of ``request`` made by ``function``'s role in ``deployment``."""
    return principal_simulation(
        deployment.principal(function),
        deployment.role_arns[function],
        deployment.role_policies[function],
        request,
        deployment.resource_policy(request),
    )


def decision_of(request: IamRequest, answer: dict[str, Any]) -> Decision:
    errors = answer.get("errors")
    return Decision(
        request,
        str(answer.get("decision")),
        tuple((str(policy), str(statement)) for policy, statement in answer.get("identity_allows", [])),
        tuple(
            (str(where), str(policy), str(statement)) for where, policy, statement in answer.get("denies", [])
        ),
        json.dumps(errors) if errors else None,
    )


def bucket_key_requests(deployment: Deployment, call: RecordedCall) -> list[IamRequest]:
    """The KMS requests S3 makes with the caller's credentials when the bucket encrypts with a customer key."""
    if deployment.bucket_key is None or call.requests.bucket != deployment.bucket:
        return []
    context = (("kms:ViaService", f"s3.{REGION}.amazonaws.com"), ("kms:CallerAccount", ACCOUNT_ID))
    return [IamRequest(action, deployment.bucket_key, context) for action in call.requests.bucket_key_uses]


def decide(deployment: Deployment, call: RecordedCall) -> list[Decision]:
    """Every IAM request of ``call`` under ``deployment``, decided by the simulator."""
    requests = [deployment.authorized(request) for request in call.requests.requests]
    return [
        decision_of(request, simulator().run(simulation(deployment, call.function, request)))
        for request in [*requests, *bucket_key_requests(deployment, call)]
    ]
