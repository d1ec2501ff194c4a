"""Settings, parsed once from the environment into a typed model that fails fast.

template.yaml sets every variable; required ones have no default here, so a function deployed without them
stops at its first invocation with a message that names the variable.
"""

import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Annotated, Literal, Self

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from simpledb_backup.errors import ConfigurationError
from simpledb_backup.items import validate_domain_name

#: Environment variable for each field.
ENVIRONMENT_NAMES = {
    "backup_bucket": "BACKUP_BUCKET",
    "domain_names": "DOMAIN_NAMES",
    "segments": "BACKUP_SEGMENTS",
    "restore_workers": "RESTORE_WORKERS",
    "restore_target_pattern": "RESTORE_TARGET_PATTERN",
    "continuation_margin_seconds": "CONTINUATION_MARGIN_SECONDS",
    "dump_retention_days": "DUMP_RETENTION_DAYS",
    "dump_retention_mode": "DUMP_RETENTION_MODE",
    "state_key_id": "STATE_KEY_ID",
    "drill_scratch_prefix": "DRILL_SCRATCH_PREFIX",
}
#: Restore drills restore into ``<prefix><domain>`` and nowhere else (the drill role's IAM grants nothing else):
#: no configured domain and no restore target may carry it. template.yaml names it after the stack
#: (``<stack>-drill-``, DRILL_SCRATCH_PREFIX) so that two stacks never share a scratch domain; this default is
#: the one of a stack named ``simpledb-backup``, which local tooling uses.
DRILL_DOMAIN_PREFIX = "simpledb-backup-drill-"


@dataclass(frozen=True)
class Retention:
    """S3 Object Lock retention of published dump versions (DUMP_RETENTION_DAYS / DUMP_RETENTION_MODE)."""

    days: int
    mode: str  # GOVERNANCE or COMPLIANCE


class Settings(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    backup_bucket: Annotated[str, Field(min_length=3)]
    domain_names: Annotated[tuple[str, ...], Field(min_length=1)]
    #: Most concurrent Select streams per scan (itemName() ranges); a small domain gets fewer. Each stream
    #: holds up to two 1 MB pages while they are parsed (~11 MB), so 4 keeps a scan under 150 MB.
    segments: Annotated[int, Field(ge=1, le=64)] = 4
    #: Concurrent BatchPut/BatchDelete workers per restore.
    restore_workers: Annotated[int, Field(ge=1, le=64)] = 8
    #: Extra domains a restore may write to: a domain name, or a literal prefix and one trailing ``*`` (for
    #: example ``restored-*``); empty for none. IAM matches the same ARN pattern (template.yaml), so the
    #: pattern grammar is what both read the same way: no ``?``, no ``[...]``, no ``*`` but the last character.
    restore_target_pattern: Annotated[str, Field(pattern=r"^([A-Za-z0-9_.\-]{1,255}\*?)?$")] = ""
    #: When less than this is left of an invocation, save a checkpoint and continue in a new invocation.
    continuation_margin_seconds: Annotated[float, Field(ge=0)] = 90.0
    #: S3 Object Lock retention of each published dump version, in days; 0 for none.
    dump_retention_days: Annotated[int, Field(ge=0, le=36500)] = 0
    dump_retention_mode: Literal["GOVERNANCE", "COMPLIANCE"] = "GOVERNANCE"
    #: The KMS HMAC key that seals restore and drill states and locks (aws.statemac): its ARN, id or alias.
    #: The functions need it (aws.statemac.StateMac refuses to start without it); tools that neither restore
    #: nor read restores' marks may leave it empty.
    state_key_id: str = ""
    #: Restore drills restore into ``<prefix><domain>`` and nowhere else (the drill role's IAM); template.yaml
    #: gives it the stack's name, so that two stacks never drill into the same scratch domain.
    drill_scratch_prefix: Annotated[str, Field(pattern=r"^[A-Za-z0-9_.\-]{1,200}$")] = DRILL_DOMAIN_PREFIX

    @field_validator("domain_names", mode="before")
    @classmethod
    def _split_domain_list(cls, value: object) -> object:
        if isinstance(value, str):
            return tuple(name.strip() for name in value.split(",") if name.strip())
        return value

    @field_validator("domain_names")
    @classmethod
    def _check_domain_names(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for name in value:
            validate_domain_name(name)
        return value

    @model_validator(mode="after")
    def _no_domain_is_a_scratch_domain(self) -> Self:
        for name in self.domain_names:
            if name.startswith(self.drill_scratch_prefix):
                raise ValueError(
                    f"{name!r}: names starting with {self.drill_scratch_prefix} are the drills' scratch domains"
                )
        return self

    @property
    def retention(self) -> Retention | None:
        """The Object Lock retention of published dumps, or None when it is off."""
        if not self.dump_retention_days:
            return None
        return Retention(self.dump_retention_days, self.dump_retention_mode)

    def may_restore_into(self, domain: str) -> bool:
        """A restore may write to a configured domain or to one matching the target pattern, read as IAM reads
        ``arn:...:domain/<pattern>``: a trailing ``*`` matches any rest (the empty one included)."""
        if domain in self.domain_names:
            return True
        if domain.startswith((DRILL_DOMAIN_PREFIX, self.drill_scratch_prefix)):
            return False  # the drills' scratch domains, written by the drill function alone
        pattern = self.restore_target_pattern
        if pattern.endswith("*"):
            return domain.startswith(pattern[:-1])
        return bool(pattern) and domain == pattern

    @classmethod
    def from_environment(cls, environ: Mapping[str, str] | None = None) -> "Settings":
        env = os.environ if environ is None else environ
        raw = {field: env[variable] for field, variable in ENVIRONMENT_NAMES.items() if variable in env}
        try:
            return cls.model_validate(raw)
        except ValidationError as error:
            problems = "; ".join(
                f"{ENVIRONMENT_NAMES.get(str(problem['loc'][0]), problem['loc'][0])}: {problem['msg']}"
                if problem["loc"]
                else str(problem["msg"])  # a rule over several fields names them itself
                for problem in error.errors()
            )
            raise ConfigurationError(f"invalid function configuration: {problems}") from error
