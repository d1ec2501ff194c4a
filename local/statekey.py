"""Create the state key as template.yaml declares ``StateKey`` (for the demo, local runs, the benchmark and tests).

The key seals restore and drill states and locks (simpledb_backup.aws.statemac). Its settings (KeySpec,
KeyUsage, Description) are read from the template and resolved as local/stackbucket.py resolves the bucket's, so
the local key cannot drift from the deployed one; a property this module cannot translate raises
``UnsupportedTemplateError``. Two are not applied locally: ``KeyPolicy`` names the stack's roles, which do not
exist locally (moto would not enforce it either), and ``PendingWindowInDays`` only matters when the key is
deleted.

The deployed functions name the key by its ARN (STATE_KEY_ID); locally they name it by an alias, because moto
gives every new key a random id: events/env.json sets STATE_KEY_ID to ``LOCAL_STATE_KEY_ALIAS``.

    >>> create_state_key(boto3.client("kms"))
    {'key_id': '...', 'alias': 'alias/simpledb-backup-state-local', 'key_spec': 'HMAC_256', ...}
"""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Any

from stackbucket import Resolver, UnsupportedTemplateError, load_template

STATE_KEY_LOGICAL_ID = "StateKey"
#: The alias events/env.json's STATE_KEY_ID names.
LOCAL_STATE_KEY_ALIAS = "alias/simpledb-backup-state-local"
_NOT_APPLIED_LOCALLY = {"KeyPolicy", "PendingWindowInDays"}


@cache
def state_key_properties(template_path: str | Path = "template.yaml") -> dict[str, Any]:
    """The resolved ``Properties`` of the template's StateKey that a local key is created with."""
    template = load_template(template_path)
    properties = dict(template["Resources"][STATE_KEY_LOGICAL_ID]["Properties"])
    for name in _NOT_APPLIED_LOCALLY:
        properties.pop(name, None)
    unknown = set(properties) - {"KeySpec", "KeyUsage", "Description"}
    if unknown:
        raise UnsupportedTemplateError(f"{STATE_KEY_LOGICAL_ID}: cannot translate {sorted(unknown)}")
    resolved: dict[str, Any] = Resolver(template).resolve(properties)
    return resolved


def create_state_key(
    kms_client: Any, alias: str = LOCAL_STATE_KEY_ALIAS, template_path: str | Path = "template.yaml"
) -> dict[str, Any]:
    """Create the state key as template.yaml declares it, named by ``alias``; the key the alias already names
    when there is one (a rerun against the same local AWS). Returns its key id, alias, KeySpec and KeyUsage."""
    try:
        metadata = kms_client.describe_key(KeyId=alias)["KeyMetadata"]
    except kms_client.exceptions.NotFoundException:
        properties = state_key_properties(str(template_path))
        metadata = kms_client.create_key(
            KeySpec=properties["KeySpec"],
            KeyUsage=properties["KeyUsage"],
            Description=properties.get("Description", ""),
        )["KeyMetadata"]
        kms_client.create_alias(AliasName=alias, TargetKeyId=metadata["KeyId"])
    return {
        "key_id": metadata["KeyId"],
        "alias": alias,
        "key_spec": metadata.get("KeySpec"),
        "key_usage": metadata.get("KeyUsage"),
    }
