"""Helpers for the template tests: load template.yaml, expand AWS::LanguageExtensions (Fn::ForEach) and run the
SAM translator the way ``sam validate --language-extensions`` does, then look things up in the result.

Nothing here talks to AWS: the translator gets a boto3 session with fake credentials and a managed-policy
loader stub (the template attaches no managed policies by name, so the stub is never asked for one).
"""

from __future__ import annotations

import copy
import io
import json
import re
import zipfile
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import boto3
from samtranslator.parser import parser
from samtranslator.translator.translator import Translator

from stackbucket import Resolver, load_template

REPO_ROOT = Path(__file__).resolve().parents[2]
TEMPLATE_PATH = REPO_ROOT / "template.yaml"
REGION = "us-east-1"
ACCOUNT_ID = "123456789012"
STACK_NAME = "sdb-test"
LANGUAGE_EXTENSIONS = "AWS::LanguageExtensions"
FOREACH_PREFIX = "Fn::ForEach::"
# Two domains, one with characters Fn::ForEach strips from logical ids, to show per-domain expansion.
TWO_DOMAINS = {"DomainNames": "packages,repo-meta.v2"}
# Three domains with every character SimpleDB allows besides letters and digits ('-', '.', '_').
THREE_DOMAINS = {"DomainNames": "packages,repo-meta.v2,build_cache"}
DOMAINS_OF_THREE = ["packages", "repo-meta.v2", "build_cache"]
# What `sam validate` substitutes for local code paths before translating.
S3_CODE_URI = "s3://bucket/value"


def fake_session() -> boto3.Session:
    return boto3.Session(
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
        aws_session_token="testing",
        region_name=REGION,
    )


# ------------------------------------------------------------------------------------------- LanguageExtensions
def _substitute(value: Any, identifier: str, item: str) -> Any:
    """Replace ${identifier} / &{identifier} in strings and {"Ref": identifier}, as Fn::ForEach does."""
    alphanumeric = re.sub(r"[^A-Za-z0-9]", "", item)
    if isinstance(value, str):
        return value.replace(f"${{{identifier}}}", item).replace(f"&{{{identifier}}}", alphanumeric)
    if isinstance(value, list):
        return [_substitute(element, identifier, item) for element in value]
    if isinstance(value, dict):
        if value == {"Ref": identifier}:
            return item
        return {
            _substitute(key, identifier, item): _substitute(element, identifier, item)
            for key, element in value.items()
        }
    return value


def _expand_mapping(mapping: Mapping[str, Any], parameters: Mapping[str, list[str] | str]) -> dict[str, Any]:
    expanded: dict[str, Any] = {}
    for key, value in mapping.items():
        if not key.startswith(FOREACH_PREFIX):
            expanded[key] = value
            continue
        identifier, collection, body = value
        if isinstance(collection, dict) and "Ref" in collection:
            collection = parameters[collection["Ref"]]
        if isinstance(collection, str):
            collection = [part.strip() for part in collection.split(",")]
        for item in collection:
            for out_key, out_value in _substitute(body, identifier, item).items():
                if out_key in expanded:
                    raise ValueError(f"Fn::ForEach produced a duplicate key {out_key}")
                expanded[out_key] = out_value
    return expanded


def expand_language_extensions(
    template: Mapping[str, Any], parameter_overrides: Mapping[str, Any] | None = None
) -> dict[str, Any]:
    """Expand top-level Fn::ForEach blocks of Resources/Conditions/Outputs (all this template uses)."""
    result = copy.deepcopy(dict(template))
    resolver = Resolver(result, parameter_overrides)
    for section in ("Conditions", "Resources", "Outputs"):
        if section in result:
            result[section] = _expand_mapping(result[section], resolver.parameters)
    return result


# ------------------------------------------------------------------------------------------- SAM translation
def _replace_local_code_uris(template: dict[str, Any]) -> None:
    for resource in template.get("Resources", {}).values():
        properties = resource.get("Properties", {})
        for key in ("CodeUri", "ContentUri"):
            if isinstance(properties.get(key), str) and not properties[key].startswith("s3://"):
                properties[key] = S3_CODE_URI


def translate(parameter_overrides: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """template.yaml after LanguageExtensions and the SAM transform (CloudFormation's view of the stack)."""
    raw = load_template(TEMPLATE_PATH)
    expanded = expand_language_extensions(raw, parameter_overrides)
    _replace_local_code_uris(expanded)
    parameter_values: dict[str, Any] = {
        "AWS::Region": REGION,
        "AWS::AccountId": ACCOUNT_ID,
        "AWS::StackName": STACK_NAME,
        "AWS::Partition": "aws",
    }
    parameter_values.update({key: value for key, value in (parameter_overrides or {}).items()})
    translator = Translator(
        managed_policy_map=None, sam_parser=parser.Parser(), plugins=[], boto_session=fake_session()
    )
    translated: dict[str, Any] = translator.translate(
        sam_template=expanded,
        parameter_values=parameter_values,
        get_managed_policy_map=lambda: {},
    )
    return translated


def resolver(template: Mapping[str, Any], parameter_overrides: Mapping[str, Any] | None = None) -> Resolver:
    """A resolver for a translated template: other resources become "<Logical>" / "<Logical.Attr>"."""
    return Resolver(
        template,
        parameter_overrides,
        region=REGION,
        account_id=ACCOUNT_ID,
        stack_name=STACK_NAME,
        placeholder_resources=True,
    )


# ------------------------------------------------------------------------------------------- lookups
def resources_of_type(template: Mapping[str, Any], resource_type: str) -> dict[str, dict[str, Any]]:
    return {
        logical_id: resource
        for logical_id, resource in template["Resources"].items()
        if resource["Type"] == resource_type
    }


def as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def policy_statements(policy_document: Mapping[str, Any]) -> Iterator[dict[str, Any]]:
    yield from as_list(policy_document["Statement"])


def role_statements(
    template: Mapping[str, Any], role_logical_id: str, parameter_overrides: Mapping[str, Any] | None = None
) -> list[dict[str, Any]]:
    """Every statement that ends up on a role, resolved: its inline Policies plus the AWS::IAM::Policy
    resources attached to it (those whose Condition holds for the given parameters)."""
    resolve = resolver(template, parameter_overrides).resolve
    statements: list[dict[str, Any]] = []
    role = template["Resources"][role_logical_id]["Properties"]
    for policy in resolve(role.get("Policies", [])):
        statements.extend(policy_statements(policy["PolicyDocument"]))
    for policy in resources_of_type(template, "AWS::IAM::Policy").values():
        if "Condition" in policy and not resolve({"Condition": policy["Condition"]}):
            continue
        if {"Ref": role_logical_id} in policy["Properties"].get("Roles", []):
            statements.extend(policy_statements(resolve(policy["Properties"]["PolicyDocument"])))
    return statements


def allowed(statements: list[dict[str, Any]]) -> dict[str, set[str]]:
    """action -> set of resources it is allowed on (statements already resolved to plain strings)."""
    grants: dict[str, set[str]] = {}
    for statement in statements:
        if statement["Effect"] != "Allow":
            continue
        for action in as_list(statement["Action"]):
            grants.setdefault(action, set()).update(as_list(statement["Resource"]))
    return grants


# ------------------------------------------------------------------------------------------- moto deployment
UNSUPPORTED_BY_MOTO = {
    "AWS::Scheduler::Schedule",
    "AWS::Scheduler::ScheduleGroup",
    "AWS::Lambda::EventInvokeConfig",
    "AWS::S3::BucketPolicy",
    "AWS::SNS::TopicPolicy",
    "AWS::CloudWatch::Alarm",
    "AWS::CloudWatch::CompositeAlarm",
}
CREATED_THROUGH_API = {"AWS::CloudWatch::Alarm", "AWS::CloudWatch::Dashboard"}
# moto 5.2.5 has neither a CloudFormation model nor PutCompositeAlarm ("not been implemented").
NOT_CREATED_IN_MOTO = {"AWS::CloudWatch::CompositeAlarm"}
# They reference the stripped dashboard and schedule groups.
STRIPPED_OUTPUTS = {"DashboardName", "DashboardUrl", "BackupScheduleGroupName", "DrillScheduleGroupName"}


def code_zip() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("handler.py", "def lambda_handler(event, context):\n    return {}\n")
    return buffer.getvalue()


def strip_for_moto(template: dict[str, Any]) -> tuple[dict[str, Any], dict[str, dict[str, Any]]]:
    deployable = json.loads(json.dumps(template))
    stripped = {
        logical_id: deployable["Resources"].pop(logical_id)
        for logical_id, resource in list(deployable["Resources"].items())
        if resource["Type"] in UNSUPPORTED_BY_MOTO | CREATED_THROUGH_API
    }
    for output in STRIPPED_OUTPUTS:
        deployable["Outputs"].pop(output)
    remaining = json.dumps(deployable)
    for logical_id in stripped:
        assert f'"{logical_id}"' not in remaining, f"{logical_id} was stripped but is still referenced"
    return deployable, stripped


class Deployed:
    def __init__(
        self,
        template: dict[str, Any],
        stripped: dict[str, dict[str, Any]],
        parameters: Mapping[str, Any] | None = None,
    ) -> None:
        self.template = template
        self.stripped = stripped
        self.parameters = dict(parameters or {})
        self.cfn = boto3.client("cloudformation", region_name=REGION)
        self.s3 = boto3.client("s3", region_name=REGION)
        self.cloudwatch = boto3.client("cloudwatch", region_name=REGION)
        summaries = self.cfn.list_stack_resources(StackName=STACK_NAME)["StackResourceSummaries"]
        self.physical = {s["LogicalResourceId"]: s["PhysicalResourceId"] for s in summaries}
        self.types = {s["LogicalResourceId"]: s["ResourceType"] for s in summaries}
        self.alarm_names: dict[str, str] = {}
        self.outputs = {
            o["OutputKey"]: o["OutputValue"]
            for o in self.cfn.describe_stacks(StackName=STACK_NAME)["Stacks"][0]["Outputs"]
        }

    def resolver(self, extra: dict[str, Any] | None = None) -> Resolver:
        """Resolves Ref/GetAtt against what moto created (queue names from their URLs)."""
        refs: dict[str, Any] = dict(self.physical)
        for logical_id, physical_id in self.physical.items():
            if self.types[logical_id] == "AWS::SQS::Queue":
                refs[f"{logical_id}.QueueName"] = physical_id.rsplit("/", 1)[1]
        # The schedule groups are stripped; their names come from the stack name (template: Name).
        refs["BackupScheduleGroup"] = STACK_NAME
        refs["DrillScheduleGroup"] = f"{STACK_NAME}-drills"
        refs.update(extra or {})
        return Resolver(
            self.template, self.parameters, stack_name=STACK_NAME, region=REGION, resource_refs=refs
        )

    def expected_alarms(self) -> dict[str, dict[str, Any]]:
        """The stripped alarms deploy_to_moto created through the CloudWatch API."""
        return {
            logical_id: resource
            for logical_id, resource in self.stripped.items()
            if self.created_in_cloudwatch(resource)
        }

    def created_in_cloudwatch(self, resource: Mapping[str, Any]) -> bool:
        """Whether deploy_to_moto put this stripped alarm through the CloudWatch API."""
        if resource["Type"] != "AWS::CloudWatch::Alarm":
            return False
        return "Condition" not in resource or bool(self.resolver().condition(resource["Condition"]))


def put_alarm(cloudwatch: Any, properties: dict[str, Any]) -> None:
    """AWS::CloudWatch::Alarm properties -> PutMetricAlarm (same field names; numbers as numbers)."""
    request = dict(properties)
    request["Threshold"] = float(request["Threshold"])
    for key in ("Period", "EvaluationPeriods", "DatapointsToAlarm"):
        if key in request:
            request[key] = int(request[key])
    for query in request.get("Metrics", []):
        if "MetricStat" in query:
            query["MetricStat"]["Period"] = int(query["MetricStat"]["Period"])
    cloudwatch.put_metric_alarm(**request)


def deploy_to_moto(template: dict[str, Any], parameters: Mapping[str, Any] | None = None) -> Deployed:
    """Create the stack in moto (inside an active mock_aws) with the given parameter values, then the alarms
    and the dashboard through the CloudWatch API. See tests/template/test_template_moto_deploy.py for what is
    stripped and why."""
    deployable, stripped = strip_for_moto(template)
    s3 = boto3.client("s3", region_name=REGION)
    # `sam validate`-style translation points every CodeUri/ContentUri at s3://bucket/value.
    s3.create_bucket(Bucket="bucket")
    s3.put_object(Bucket="bucket", Key="value", Body=code_zip())
    cfn = boto3.client("cloudformation", region_name=REGION)
    cfn.create_stack(
        StackName=STACK_NAME,
        TemplateBody=json.dumps(deployable),
        Parameters=[
            {"ParameterKey": key, "ParameterValue": str(value)} for key, value in (parameters or {}).items()
        ],
        Capabilities=["CAPABILITY_IAM"],
    )
    assert cfn.describe_stacks(StackName=STACK_NAME)["Stacks"][0]["StackStatus"] == "CREATE_COMPLETE"
    stack = Deployed(deployable, stripped, parameters)
    resolve = stack.resolver().resolve
    for logical_id, resource in stripped.items():
        if stack.created_in_cloudwatch(resource):
            properties = resolve(resource["Properties"])
            put_alarm(stack.cloudwatch, properties)
            stack.alarm_names[logical_id] = properties["AlarmName"]
    alarm_arns = {
        f"{logical_id}.Arn": stack.cloudwatch.describe_alarms(AlarmNames=[name])["MetricAlarms"][0][
            "AlarmArn"
        ]
        for logical_id, name in stack.alarm_names.items()
    }
    dashboard = stripped["Dashboard"]["Properties"]
    with_alarms = stack.resolver(alarm_arns).resolve
    stack.cloudwatch.put_dashboard(
        DashboardName=with_alarms(dashboard["DashboardName"]),
        DashboardBody=with_alarms(dashboard["DashboardBody"]),
    )
    return stack
