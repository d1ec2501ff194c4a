"""Create a bucket configured exactly as template.yaml declares ``BackupBucket`` (for the demo and tests).

The bucket settings (versioning, Object Lock, lifecycle, encryption, public access block, ownership controls,
replication) are read from the template, not repeated here: ``Ref`` to parameters (their defaults unless
overridden), ``Fn::If`` on the template's own conditions, ``Fn::Sub`` of plain strings and the pseudo parameters
are resolved, then each setting is translated from its CloudFormation shape to the S3 API shape and applied with
boto3. A template property this module cannot translate raises ``UnsupportedTemplateError`` instead of being
silently skipped, so the local bucket can never drift quietly from the deployed one.

The conditional properties: ``ObjectLockEnabled`` (when DumpRetentionLockDays > 0) creates the bucket with
Object Lock, or enables it on an existing versioned bucket, as S3 (and moto, for an empty bucket) allows; no
default retention is set, as in the template. ``ReplicationConfiguration`` (when ReplicationDestinationBucketArn
is set) names the stack's replication role, a resource this module cannot create: pass its ARN as
``replication_role_arn`` and the configuration is applied with PutBucketReplication (moto stores it and returns
it, but never copies an object); without it the call fails loudly.

    >>> summary = create_backup_bucket(boto3.client("s3"), "demo-backups")
    >>> summary["versioning"], summary["lifecycle_rules"]
    ('Enabled', ['ExpireOldDumpVersions', 'AbortIncompleteMultipartUploads', ...])
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml
from botocore.exceptions import ClientError

BUCKET_LOGICAL_ID = "BackupBucket"
DEFAULT_ACCOUNT_ID = "123456789012"
DEFAULT_STACK_NAME = "simpledb-backup"


class UnsupportedTemplateError(ValueError):
    """The template uses a construct this small resolver/translator does not understand."""


# ------------------------------------------------------------------------------------------- template loading
_SHORT_TAG_NAMES = {"Ref": "Ref", "Condition": "Condition"}


class _CfnLoader(yaml.SafeLoader):  # type: ignore[misc]  # PyYAML ships without type hints
    """PyYAML SafeLoader that turns CloudFormation short tags (!Ref, !Sub, !GetAtt, ...) into their long form."""


def _construct_short_tag(loader: _CfnLoader, tag_suffix: str, node: yaml.Node) -> dict[str, Any]:
    value: Any
    if isinstance(node, yaml.ScalarNode):
        value = loader.construct_scalar(node)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    elif isinstance(node, yaml.MappingNode):
        value = loader.construct_mapping(node, deep=True)
    else:  # pragma: no cover - PyYAML has no other node kinds
        raise UnsupportedTemplateError(f"unexpected YAML node for !{tag_suffix}")
    if tag_suffix == "GetAtt" and isinstance(value, str):
        value = value.split(".", 1)
    return {_SHORT_TAG_NAMES.get(tag_suffix, f"Fn::{tag_suffix}"): value}


_CfnLoader.add_multi_constructor("!", _construct_short_tag)


def load_template(path: str | Path) -> dict[str, Any]:
    """Load a CloudFormation/SAM YAML template into plain dicts and lists (short tags in long form)."""
    with Path(path).open(encoding="utf-8") as handle:
        document = yaml.load(handle, Loader=_CfnLoader)
    if not isinstance(document, dict):
        raise UnsupportedTemplateError(f"{path} is not a template mapping")
    return document


# ------------------------------------------------------------------------------------------- intrinsic resolver
class _NoValue:
    """Marker for AWS::NoValue: the enclosing key or list element disappears."""

    def __repr__(self) -> str:
        return "AWS::NoValue"


NO_VALUE = _NoValue()
_SUB_VARIABLE = re.compile(r"\$\{([^}!][^}]*)\}")


class Resolver:
    """Resolves the intrinsic functions that can appear in resource properties that do not reference other
    resources: Ref (parameters, pseudo parameters), Fn::If / Condition, Fn::Sub, Fn::Join, Fn::Select,
    Fn::Split, Fn::FindInMap, Fn::Equals / Not / And / Or. ``Ref``/``Fn::GetAtt`` of a resource raise
    ``UnsupportedTemplateError`` unless the resource is listed in ``resource_refs`` (or ``placeholder_resources``
    is set)."""

    def __init__(
        self,
        template: Mapping[str, Any],
        parameters: Mapping[str, Any] | None = None,
        *,
        region: str = "us-east-1",
        account_id: str = DEFAULT_ACCOUNT_ID,
        stack_name: str = DEFAULT_STACK_NAME,
        partition: str = "aws",
        resource_refs: Mapping[str, Any] | None = None,
        placeholder_resources: bool = False,
    ) -> None:
        self.template = template
        self.resource_refs = dict(resource_refs or {})
        # Tests inspecting whole templates resolve other resources to "<Logical>" / "<Logical.Attribute>".
        self.placeholder_resources = placeholder_resources
        self.pseudo: dict[str, Any] = {
            "AWS::Region": region,
            "AWS::AccountId": account_id,
            "AWS::StackName": stack_name,
            "AWS::Partition": partition,
            "AWS::URLSuffix": "amazonaws.com",
            "AWS::NoValue": NO_VALUE,
        }
        self.parameters = self._parameter_values(parameters or {})
        self._conditions: dict[str, bool] = {}

    def _parameter_values(self, overrides: Mapping[str, Any]) -> dict[str, Any]:
        declared: Mapping[str, Any] = self.template.get("Parameters", {})
        unknown = set(overrides) - set(declared)
        if unknown:
            raise UnsupportedTemplateError(f"unknown parameters: {sorted(unknown)}")
        values: dict[str, Any] = {}
        for name, spec in declared.items():
            if name in overrides:
                raw = overrides[name]
            elif "Default" in spec:
                raw = spec["Default"]
            else:
                raise UnsupportedTemplateError(f"parameter {name} has no default and no value")
            if spec.get("Type") == "CommaDelimitedList":
                values[name] = raw if isinstance(raw, list) else [p.strip() for p in str(raw).split(",")]
            else:
                # CloudFormation hands every scalar parameter to resources as a string.
                values[name] = str(raw)
        return values

    def condition(self, name: str) -> bool:
        if name not in self._conditions:
            conditions: Mapping[str, Any] = self.template.get("Conditions", {})
            if name not in conditions:
                raise UnsupportedTemplateError(f"unknown condition {name}")
            self._conditions[name] = bool(self.resolve(conditions[name]))
        return self._conditions[name]

    def resolve(self, value: Any) -> Any:
        """Resolve ``value`` recursively; AWS::NoValue entries are dropped from dicts and lists."""
        if isinstance(value, list):
            items = [self.resolve(item) for item in value]
            return [item for item in items if item is not NO_VALUE]
        if not isinstance(value, dict):
            return value
        if len(value) == 1:
            ((key, arg),) = value.items()
            if key == "Ref" or key.startswith("Fn::") or key == "Condition":
                return self._intrinsic(key, arg)
        resolved = {key: self.resolve(item) for key, item in value.items()}
        return {key: item for key, item in resolved.items() if item is not NO_VALUE}

    def _ref(self, name: str) -> Any:
        if name in self.pseudo:
            return self.pseudo[name]
        if name in self.parameters:
            return self.parameters[name]
        if name in self.resource_refs:
            return self.resource_refs[name]
        if self.placeholder_resources:
            return f"<{name}>"
        raise UnsupportedTemplateError(f"Ref {name}: a resource reference cannot be resolved locally")

    def _sub(self, arg: Any) -> str:
        if isinstance(arg, str):
            text, variables = arg, {}
        else:
            text, raw_variables = arg
            variables = {name: self.resolve(item) for name, item in raw_variables.items()}

        def replace(match: re.Match[str]) -> str:
            name = match.group(1)
            if name in variables:
                return str(variables[name])
            if "." in name:
                logical_id, attribute = name.split(".", 1)
                return str(self._intrinsic("Fn::GetAtt", [logical_id, attribute]))
            resolved = self._ref(name)
            if isinstance(resolved, list):
                raise UnsupportedTemplateError(f"Fn::Sub of list parameter {name}")
            return str(resolved)

        return _SUB_VARIABLE.sub(replace, text).replace("${!", "${")

    def _intrinsic(self, key: str, arg: Any) -> Any:
        if key == "Ref":
            return self._ref(arg)
        if key == "Condition":
            return self.condition(arg)
        if key == "Fn::If":
            name, if_true, if_false = arg
            return self.resolve(if_true if self.condition(name) else if_false)
        if key == "Fn::Sub":
            return self._sub(arg)
        if key == "Fn::Join":
            delimiter, items = arg
            return delimiter.join(str(item) for item in self._list(items))
        if key == "Fn::Split":
            delimiter, text = arg
            return str(self.resolve(text)).split(delimiter)
        if key == "Fn::Select":
            index, items = arg
            return self._list(items)[int(self.resolve(index))]
        if key == "Fn::FindInMap":
            map_name, top, second = (self.resolve(part) for part in arg)
            return self.template["Mappings"][map_name][top][second]
        if key == "Fn::Equals":
            left, right = (self.resolve(part) for part in arg)
            return str(left) == str(right)
        if key == "Fn::Not":
            return not self.resolve(arg[0])
        if key == "Fn::And":
            return all(self.resolve(part) for part in arg)
        if key == "Fn::Or":
            return any(self.resolve(part) for part in arg)
        if key == "Fn::GetAtt":
            logical_id, attribute = arg if isinstance(arg, list) else arg.split(".", 1)
            attribute_key = f"{logical_id}.{attribute}"
            if attribute_key in self.resource_refs:
                return self.resource_refs[attribute_key]
            if self.placeholder_resources:
                return f"<{attribute_key}>"
            raise UnsupportedTemplateError(f"Fn::GetAtt {attribute_key} cannot be resolved locally")
        raise UnsupportedTemplateError(f"{key} is not supported by the local resolver")

    def _list(self, items: Any) -> list[Any]:
        resolved = self.resolve(items)
        if not isinstance(resolved, list):
            raise UnsupportedTemplateError(f"expected a list, got {resolved!r}")
        return resolved


# ------------------------------------------------------------------------------------------- CFN -> S3 API shapes
def _int(value: Any) -> int:
    return int(str(value))


def _bool(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    return str(value).lower() == "true"


def _only(mapping: Mapping[str, Any], allowed: set[str], where: str) -> None:
    unknown = set(mapping) - allowed
    if unknown:
        raise UnsupportedTemplateError(f"{where}: cannot translate {sorted(unknown)}")


def lifecycle_rule_to_api(rule: Mapping[str, Any]) -> dict[str, Any]:
    """One ``AWS::S3::Bucket`` LifecycleConfiguration rule in the shape of PutBucketLifecycleConfiguration."""
    _only(
        rule,
        {
            "Id",
            "Status",
            "Prefix",
            "ExpirationInDays",
            "ExpiredObjectDeleteMarker",
            "NoncurrentVersionExpiration",
            "NoncurrentVersionTransitions",
            "Transitions",
            "AbortIncompleteMultipartUpload",
        },
        f"lifecycle rule {rule.get('Id')}",
    )
    api: dict[str, Any] = {"ID": rule["Id"], "Status": rule["Status"]}
    api["Filter"] = {"Prefix": rule["Prefix"]} if "Prefix" in rule else {}
    if "ExpirationInDays" in rule:
        api["Expiration"] = {"Days": _int(rule["ExpirationInDays"])}
    if "ExpiredObjectDeleteMarker" in rule:
        api["Expiration"] = {"ExpiredObjectDeleteMarker": _bool(rule["ExpiredObjectDeleteMarker"])}
    if "NoncurrentVersionExpiration" in rule:
        expiration = rule["NoncurrentVersionExpiration"]
        _only(expiration, {"NoncurrentDays", "NewerNoncurrentVersions"}, "NoncurrentVersionExpiration")
        api["NoncurrentVersionExpiration"] = {key: _int(value) for key, value in expiration.items()}
    if "NoncurrentVersionTransitions" in rule:
        api["NoncurrentVersionTransitions"] = [
            {"NoncurrentDays": _int(t["TransitionInDays"]), "StorageClass": t["StorageClass"]}
            for t in rule["NoncurrentVersionTransitions"]
        ]
    if "Transitions" in rule:
        api["Transitions"] = [
            {"Days": _int(t["TransitionInDays"]), "StorageClass": t["StorageClass"]}
            for t in rule["Transitions"]
        ]
    if "AbortIncompleteMultipartUpload" in rule:
        days = rule["AbortIncompleteMultipartUpload"]["DaysAfterInitiation"]
        api["AbortIncompleteMultipartUpload"] = {"DaysAfterInitiation": _int(days)}
    return api


def _status(block: Mapping[str, Any], where: str, extra: set[str] | None = None) -> dict[str, Any]:
    _only(block, {"Status"} | (extra or set()), where)
    return {"Status": block["Status"]}


def _minutes(block: Mapping[str, Any], where: str) -> dict[str, int]:
    _only(block, {"Minutes"}, where)
    return {"Minutes": _int(block["Minutes"])}


def replication_rule_to_api(rule: Mapping[str, Any]) -> dict[str, Any]:
    """One ``AWS::S3::Bucket`` ReplicationConfiguration rule in the shape of PutBucketReplication."""
    where = f"replication rule {rule.get('Id')}"
    _only(
        rule,
        {
            "Id",
            "Status",
            "Priority",
            "Filter",
            "DeleteMarkerReplication",
            "SourceSelectionCriteria",
            "Destination",
        },
        where,
    )
    api: dict[str, Any] = {"ID": rule["Id"], "Status": rule["Status"]}
    if "Priority" in rule:
        api["Priority"] = _int(rule["Priority"])
    if "Filter" in rule:
        _only(rule["Filter"], {"Prefix"}, f"{where} Filter")
        api["Filter"] = {"Prefix": rule["Filter"]["Prefix"]}
    if "DeleteMarkerReplication" in rule:
        api["DeleteMarkerReplication"] = _status(
            rule["DeleteMarkerReplication"], f"{where} DeleteMarkerReplication"
        )
    if "SourceSelectionCriteria" in rule:
        criteria = rule["SourceSelectionCriteria"]
        _only(criteria, {"SseKmsEncryptedObjects"}, f"{where} SourceSelectionCriteria")
        api["SourceSelectionCriteria"] = {
            "SseKmsEncryptedObjects": _status(
                criteria["SseKmsEncryptedObjects"], f"{where} SseKmsEncryptedObjects"
            )
        }
    destination = rule["Destination"]
    _only(
        destination,
        {"Bucket", "EncryptionConfiguration", "ReplicationTime", "Metrics"},
        f"{where} Destination",
    )
    api_destination: dict[str, Any] = {"Bucket": destination["Bucket"]}
    if "EncryptionConfiguration" in destination:
        encryption = destination["EncryptionConfiguration"]
        _only(encryption, {"ReplicaKmsKeyID"}, f"{where} EncryptionConfiguration")
        api_destination["EncryptionConfiguration"] = {"ReplicaKmsKeyID": encryption["ReplicaKmsKeyID"]}
    if "ReplicationTime" in destination:
        time_control = destination["ReplicationTime"]
        api_destination["ReplicationTime"] = {
            **_status(time_control, f"{where} ReplicationTime", {"Time"}),
            "Time": _minutes(time_control["Time"], f"{where} ReplicationTime.Time"),
        }
    if "Metrics" in destination:
        metrics = destination["Metrics"]
        api_destination["Metrics"] = {
            **_status(metrics, f"{where} Metrics", {"EventThreshold"}),
            "EventThreshold": _minutes(metrics["EventThreshold"], f"{where} Metrics.EventThreshold"),
        }
    api["Destination"] = api_destination
    return api


def replication_to_api(configuration: Mapping[str, Any]) -> dict[str, Any]:
    _only(configuration, {"Role", "Rules"}, "ReplicationConfiguration")
    return {
        "Role": configuration["Role"],
        "Rules": [replication_rule_to_api(rule) for rule in configuration["Rules"]],
    }


def encryption_to_api(bucket_encryption: Mapping[str, Any]) -> dict[str, Any]:
    rules = []
    for rule in bucket_encryption["ServerSideEncryptionConfiguration"]:
        _only(rule, {"ServerSideEncryptionByDefault", "BucketKeyEnabled"}, "encryption rule")
        api_rule: dict[str, Any] = {
            "ApplyServerSideEncryptionByDefault": dict(rule["ServerSideEncryptionByDefault"])
        }
        if "BucketKeyEnabled" in rule:
            api_rule["BucketKeyEnabled"] = _bool(rule["BucketKeyEnabled"])
        rules.append(api_rule)
    return {"Rules": rules}


REPLICATION_ROLE_LOGICAL_ID = "ReplicationRole"


def bucket_properties(
    template_path: str | Path = "template.yaml",
    parameters: Mapping[str, Any] | None = None,
    *,
    region: str = "us-east-1",
    replication_role_arn: str | None = None,
) -> dict[str, Any]:
    """The resolved ``Properties`` of the template's BackupBucket."""
    template = load_template(template_path)
    resource = template["Resources"][BUCKET_LOGICAL_ID]
    refs = {f"{REPLICATION_ROLE_LOGICAL_ID}.Arn": replication_role_arn} if replication_role_arn else {}
    resolver = Resolver(template, parameters, region=region, resource_refs=refs)
    try:
        properties = resolver.resolve(resource.get("Properties", {}))
    except UnsupportedTemplateError as error:
        if REPLICATION_ROLE_LOGICAL_ID not in str(error):
            raise
        raise UnsupportedTemplateError(
            "ReplicationConfiguration names the stack's ReplicationRole, which is not created locally: "
            "pass its ARN as replication_role_arn"
        ) from error
    _only(
        properties,
        {
            "VersioningConfiguration",
            "ObjectLockEnabled",
            "LifecycleConfiguration",
            "BucketEncryption",
            "PublicAccessBlockConfiguration",
            "OwnershipControls",
            "ReplicationConfiguration",
        },
        BUCKET_LOGICAL_ID,
    )
    return dict(properties)


def _object_lock_enabled(s3_client: Any, bucket_name: str) -> bool:
    try:
        configuration = s3_client.get_object_lock_configuration(Bucket=bucket_name)
    except ClientError as error:
        if error.response.get("Error", {}).get("Code") == "ObjectLockConfigurationNotFoundError":
            return False
        raise
    return bool(configuration["ObjectLockConfiguration"].get("ObjectLockEnabled") == "Enabled")


# ------------------------------------------------------------------------------------------- public entry point
def create_backup_bucket(
    s3_client: Any,
    bucket_name: str,
    template_path: str | Path = "template.yaml",
    parameters: Mapping[str, Any] | None = None,
    *,
    replication_role_arn: str | None = None,
) -> dict[str, Any]:
    """Create ``bucket_name`` (or reuse it if this account already owns it) and configure it as template.yaml
    declares BackupBucket. Returns ``{"bucket", "versioning", "lifecycle_rules", "encryption",
    "public_access_block", "object_ownership"}``, plus ``"object_lock"`` and ``"replication_rules"`` when the
    template declares them for these parameters."""
    region = s3_client.meta.region_name or "us-east-1"
    properties = bucket_properties(
        template_path, parameters, region=region, replication_role_arn=replication_role_arn
    )
    object_lock = _bool(properties.get("ObjectLockEnabled", False))

    create_args: dict[str, Any] = {"Bucket": bucket_name}
    if region != "us-east-1":
        create_args["CreateBucketConfiguration"] = {"LocationConstraint": region}
    if object_lock:
        create_args["ObjectLockEnabledForBucket"] = True
    created = False
    with contextlib.suppress(s3_client.exceptions.BucketAlreadyOwnedByYou):
        s3_client.create_bucket(**create_args)
        created = True

    summary: dict[str, Any] = {"bucket": bucket_name}
    if "OwnershipControls" in properties:
        s3_client.put_bucket_ownership_controls(
            Bucket=bucket_name, OwnershipControls={"Rules": properties["OwnershipControls"]["Rules"]}
        )
        summary["object_ownership"] = properties["OwnershipControls"]["Rules"][0]["ObjectOwnership"]
    if "PublicAccessBlockConfiguration" in properties:
        block = {key: _bool(value) for key, value in properties["PublicAccessBlockConfiguration"].items()}
        s3_client.put_public_access_block(Bucket=bucket_name, PublicAccessBlockConfiguration=block)
        summary["public_access_block"] = block
    if "BucketEncryption" in properties:
        encryption = encryption_to_api(properties["BucketEncryption"])
        s3_client.put_bucket_encryption(Bucket=bucket_name, ServerSideEncryptionConfiguration=encryption)
        summary["encryption"] = encryption["Rules"][0]["ApplyServerSideEncryptionByDefault"]["SSEAlgorithm"]
    if "VersioningConfiguration" in properties:
        status = properties["VersioningConfiguration"]["Status"]
        s3_client.put_bucket_versioning(Bucket=bucket_name, VersioningConfiguration={"Status": status})
        summary["versioning"] = status
    if object_lock:
        # An existing bucket (one CloudFormation created, or a rerun): enable it in place, after versioning.
        # Deliberately no Rule (default retention): only the dump versions the code publishes are locked.
        if not created and not _object_lock_enabled(s3_client, bucket_name):
            s3_client.put_object_lock_configuration(
                Bucket=bucket_name, ObjectLockConfiguration={"ObjectLockEnabled": "Enabled"}
            )
        summary["object_lock"] = "Enabled"
    if "LifecycleConfiguration" in properties:
        rules = [lifecycle_rule_to_api(rule) for rule in properties["LifecycleConfiguration"]["Rules"]]
        s3_client.put_bucket_lifecycle_configuration(
            Bucket=bucket_name, LifecycleConfiguration={"Rules": rules}
        )
        summary["lifecycle_rules"] = [rule["ID"] for rule in rules]
    if "ReplicationConfiguration" in properties:
        replication = replication_to_api(properties["ReplicationConfiguration"])
        s3_client.put_bucket_replication(Bucket=bucket_name, ReplicationConfiguration=replication)
        summary["replication_rules"] = [rule["ID"] for rule in replication["Rules"]]
    return summary
