"""Installing the engine into moto (``sdblocal.activate()``) and finding its backends afterwards.

moto internals used (moto is pinned exactly in requirements-dev.txt; re-check these on every upgrade):

* ``moto.backend_index.backend_url_patterns`` - the (service, host regex) list both the in-process
  botocore stubber and the server's ``DomainDispatcherApplication`` route by; an ``sdb`` entry
  that also matches ``sdb.amazonaws.com`` is put first;
* ``moto.sdb.sdb_backends`` / ``moto.sdb.models.sdb_backends`` - where ``moto.backends.get_backend
  ("sdb")`` looks up the service's ``BackendDict``; replaced by one of
  :class:`~sdblocal.backend.SimpleDBEngineBackend` (the request handler finds the engines there).
"""

from __future__ import annotations

import re
import threading
from typing import Any

import boto3
import moto.backend_index as backend_index
import moto.sdb
import moto.sdb.models
from moto.core.base_backend import BackendDict

from .backend import SimpleDBEngineBackend
from .s3copylock import allow_locked_copies

HOST_PATTERN = r"https?://sdb(?:\.[^/]+)?\.amazonaws\.com"

_activation_lock = threading.Lock()
_backends: BackendDict[SimpleDBEngineBackend] | None = None


def _all_regions() -> list[str]:
    """Every region botocore knows, in every partition: SimpleDB answers in all of them here."""
    session = boto3.session.Session()
    regions: set[str] = {"us-east-1"}
    for partition in session.get_available_partitions():
        regions.update(session.get_available_regions("ec2", partition_name=partition))
    return sorted(regions)


def activate() -> None:
    """Install the engine into moto. Idempotent and thread-safe."""
    global _backends
    with _activation_lock:
        if _backends is not None:
            return
        backends: BackendDict[SimpleDBEngineBackend] = BackendDict(
            SimpleDBEngineBackend, "sdb", use_boto3_regions=True, additional_regions=_all_regions()
        )
        target: Any
        for target in (moto.sdb, moto.sdb.models):
            target.sdb_backends = backends
        patterns = backend_index.backend_url_patterns
        patterns[:] = [entry for entry in patterns if entry[0] != "sdb"]
        patterns.insert(0, ("sdb", re.compile(HOST_PATTERN)))
        allow_locked_copies()  # S3: a copy with Object Lock headers, as S3 takes it
        _backends = backends


def engine_backends() -> BackendDict[SimpleDBEngineBackend]:
    """The engine's backends: ``engine_backends()[account_id][region].engine``."""
    activate()
    assert _backends is not None
    return _backends
