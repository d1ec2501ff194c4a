"""A deployment of template.yaml as IAM sees it: the template transformed (LanguageExtensions, then SAM) with
realistic parameters, and the policies that decide each function's calls, resolved to plain strings.

The parameters come from the settings the function ran with (its bucket, domains, target pattern, Object
Lock, scratch prefix: the environment template.yaml gives it) plus a ``Variant`` for what the functions cannot
see (a customer managed KMS key, replication, drills). Resources the policies reference get realistic ARNs:
the role ARNs a stack named after the scratch prefix would have, the bucket the function used, the state key
the function used.
"""

from __future__ import annotations

import sys
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from iamcheck.requests import ACCOUNT_ID, REGION, IamRequest, key_arn

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "template"))

from cfnsupport import as_list, resources_of_type, translate

from stackbucket import Resolver

DEFAULT_STACK = "simpledb-backup"
FUNCTION_LOGICAL_IDS = {"backup": "BackupFunction", "restore": "RestoreFunction", "drill": "DrillFunction"}
#: A customer managed key outside the stack (KmsKeyArn), its policy AWS's default: IAM decides.
CUSTOMER_KEY_ARN = f"arn:aws:kms:{REGION}:{ACCOUNT_ID}:key/0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0"
DEFAULT_KEY_POLICY = {
    "Version": "2012-10-17",
    "Statement": [
        {
            "Sid": "Enable IAM User Permissions",
            "Effect": "Allow",
            "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT_ID}:root"},
            "Action": "kms:*",
            "Resource": "*",
        }
    ],
}
REPLICA_BUCKET_ARN = "arn:aws:s3:::simpledb-backup-copy-eu"
REPLICA_KEY_ARN = "arn:aws:kms:eu-west-1:210987654321:key/1111aaaa-2222-bbbb-3333-cccc4444dddd"


@dataclass(frozen=True)
class Variant:
    """What a deployment chooses beyond the functions' own settings."""

    kms_key: bool = False
    replication: bool = False
    drills: bool = True
    #: BackupAdministratorArn (empty: none).
    administrator: str = ""

    def parameters(self) -> dict[str, str]:
        parameters = {"EnableRestoreDrills": "true" if self.drills else "false"}
        if self.administrator:
            parameters["BackupAdministratorArn"] = self.administrator
        if self.kms_key:
            parameters["KmsKeyArn"] = CUSTOMER_KEY_ARN
        if self.replication:
            parameters["ReplicationDestinationBucketArn"] = REPLICA_BUCKET_ARN
            if self.kms_key:
                parameters["ReplicationDestinationKmsKeyArn"] = REPLICA_KEY_ARN
        return parameters

    def label(self) -> str:
        return ", ".join(
            f"{name} {'on' if value else 'off'}"
            for name, value in (
                ("KMS key", self.kms_key),
                ("replication", self.replication),
                ("drills", self.drills),
            )
        )


@dataclass(frozen=True)
class NamedPolicy:
    name: str
    document: dict[str, Any]


@dataclass(frozen=True)
class Deployment:
    """The policies of one deployment, ready for the simulator."""

    stack: str
    bucket: str
    parameters: tuple[tuple[str, str], ...]
    variant: Variant
    role_arns: dict[str, str]  # function -> role ARN
    role_policies: dict[str, tuple[NamedPolicy, ...]]  # function -> its role's policies
    template: dict[str, Any]  # the transformed template of these parameters
    resolver: Resolver
    bucket_policy: dict[str, Any] | None
    key_policies: dict[str, dict[str, Any]]  # key ARN -> key policy
    bucket_key: str | None  # the bucket's SSE-KMS key, when there is one
    named_keys: dict[str, str]  # how the functions named a key of the stack -> its ARN

    def authorized(self, request: IamRequest) -> IamRequest:
        """``request`` as IAM sees it: a KMS key named by an alias or id is the key itself."""
        resource = self.named_keys.get(request.resource)
        return request if resource is None else IamRequest(request.action, resource, request.context)

    def principal(self, function: str) -> str:
        role_name = self.role_arns[function].rsplit("/", 1)[1]
        return f"arn:aws:sts::{ACCOUNT_ID}:assumed-role/{role_name}/{self.stack}-{function}"

    def resource_policy(self, request: IamRequest) -> dict[str, Any] | None:
        if request.action.startswith("s3:"):
            return self.bucket_policy
        if request.action.startswith("kms:"):
            return self.key_policies.get(request.resource, DEFAULT_KEY_POLICY)
        return None


def environment_parameters(environment: Mapping[str, str]) -> tuple[str, dict[str, str]]:
    """(stack name, template parameters) of the settings a function ran with (recorder.ENVIRONMENT)."""
    prefix = environment.get("DRILL_SCRATCH_PREFIX") or f"{DEFAULT_STACK}-drill-"
    stack = prefix.removesuffix("-drill-") if prefix.endswith("-drill-") else DEFAULT_STACK
    parameters = {
        "DomainNames": environment.get("DOMAIN_NAMES", ""),
        "RestoreTargetDomainPattern": environment.get("RESTORE_TARGET_PATTERN", ""),
        "DumpRetentionLockDays": environment.get("DUMP_RETENTION_DAYS") or "0",
        "DumpRetentionLockMode": environment.get("DUMP_RETENTION_MODE") or "GOVERNANCE",
    }
    return stack, parameters


@cache
def _translated(parameters: tuple[tuple[str, str], ...]) -> dict[str, Any]:
    return translate(dict(parameters))


def _role_arn(stack: str, role_logical_id: str) -> str:
    return f"arn:aws:iam::{ACCOUNT_ID}:role/{stack}-{role_logical_id}-0A1B2C3D4E5F"


def _key_refs(template: Mapping[str, Any]) -> dict[str, str]:
    """Every AWS::KMS::Key of the stack, with a key ARN of its own."""
    refs: dict[str, str] = {}
    for index, logical_id in enumerate(sorted(resources_of_type(template, "AWS::KMS::Key"))):
        key_id = f"5ea1ed00-0000-4000-8000-{index:012d}"
        refs[logical_id] = refs[f"{logical_id}.KeyId"] = key_id
        refs[f"{logical_id}.Arn"] = key_arn(key_id)
    return refs


def _named_keys(template: Mapping[str, Any], refs: Mapping[str, str], key_id: str) -> dict[str, str]:
    """The ARN the functions' calls name the stack's key by (STATE_KEY_ID: locally an alias or a random id) ->
    the key's ARN in the template. KMS authorizes a call against the key an alias or id stands for."""
    keys = sorted(resources_of_type(template, "AWS::KMS::Key"))
    if not key_id or not keys:
        return {}
    return {key_arn(key_id): refs[f"{keys[0]}.Arn"]}


def _policies_of_role(template: Mapping[str, Any], resolver: Resolver, role: str) -> tuple[NamedPolicy, ...]:
    policies = [
        NamedPolicy(policy["PolicyName"], policy["PolicyDocument"])
        for policy in resolver.resolve(template["Resources"][role]["Properties"].get("Policies", []))
    ]
    for _logical_id, resource in sorted(resources_of_type(template, "AWS::IAM::Policy").items()):
        if "Condition" in resource and not resolver.condition(resource["Condition"]):
            continue
        if {"Ref": role} in as_list(resource["Properties"].get("Roles", [])):
            properties = resolver.resolve(resource["Properties"])
            policies.append(NamedPolicy(properties["PolicyName"], properties["PolicyDocument"]))
    return tuple(policies)


@cache
def deployment(environment: tuple[tuple[str, str], ...], variant: Variant = Variant()) -> Deployment:
    """The deployment a function with these settings runs in, under ``variant``."""
    settings = dict(environment)
    stack, parameters = environment_parameters(settings)
    parameters.update(variant.parameters())
    frozen = tuple(sorted(parameters.items()))
    template = _translated(frozen)
    roles = resources_of_type(template, "AWS::IAM::Role")
    bucket = settings.get("BACKUP_BUCKET") or "simpledb-backup-bucket"
    refs: dict[str, str] = {"BackupBucket": bucket, "BackupBucket.Arn": f"arn:aws:s3:::{bucket}"}
    for role in roles:
        refs[f"{role}.Arn"] = _role_arn(stack, role)
        refs[role] = refs[f"{role}.Arn"].rsplit("/", 1)[1]
    refs.update(_key_refs(template))
    resolver = Resolver(
        template,
        parameters,
        region=REGION,
        account_id=ACCOUNT_ID,
        stack_name=stack,
        resource_refs=refs,
        placeholder_resources=True,
    )
    functions = resources_of_type(template, "AWS::Lambda::Function")
    role_of = {
        function: functions[logical_id]["Properties"]["Role"]["Fn::GetAtt"][0]
        for function, logical_id in FUNCTION_LOGICAL_IDS.items()
    }
    bucket_policies = resources_of_type(template, "AWS::S3::BucketPolicy")
    bucket_policy = (
        resolver.resolve(bucket_policies["BackupBucketPolicy"]["Properties"]["PolicyDocument"])
        if "BackupBucketPolicy" in bucket_policies
        else None
    )
    key_policies = {
        refs[f"{logical_id}.Arn"]: resolver.resolve(key["Properties"]["KeyPolicy"])
        for logical_id, key in resources_of_type(template, "AWS::KMS::Key").items()
        if "Condition" not in key or resolver.condition(key["Condition"])
    }
    return Deployment(
        stack=stack,
        bucket=bucket,
        parameters=frozen,
        variant=variant,
        role_arns={function: refs[f"{role}.Arn"] for function, role in role_of.items()},
        role_policies={
            function: _policies_of_role(template, resolver, role) for function, role in role_of.items()
        },
        template=template,
        resolver=resolver,
        bucket_policy=bucket_policy,
        key_policies=key_policies,
        bucket_key=CUSTOMER_KEY_ARN if variant.kms_key else None,
        named_keys=_named_keys(template, refs, settings.get("STATE_KEY_ID", "")),
    )
