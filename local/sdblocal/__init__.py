"""sdblocal: a faithful Amazon SimpleDB engine plugged into moto, for tests, demos and benchmarks.

    import sdblocal
    sdblocal.activate()     # then moto.mock_aws() and moto's server serve all ten SimpleDB operations

It is test and local-run infrastructure, not Lambda code.

moto internals it relies on (moto is pinned exactly in requirements-dev.txt; re-check these on
every upgrade):

* ``moto.backend_index.backend_url_patterns`` - the (service, host regex) list both the in-process
  botocore stubber and the server's ``DomainDispatcherApplication`` route by; an ``sdb`` entry
  that also matches ``sdb.amazonaws.com`` is put first;
* ``moto.sdb.sdb_backends`` / ``moto.sdb.models.sdb_backends`` - where ``moto.backends.get_backend
  ("sdb")`` looks up the service's ``BackendDict``; replaced by one of our backends;
* ``BaseBackend`` / ``BackendDict`` - backends are created per account and region and cleared by
  ``BackendDict.reset()`` (``mock_aws()``, ``POST /moto-api/reset``); ``BaseBackend._url_module``
  supplies the URL table (sdblocal/urls.py);
* the handler contract ``handler(request, full_url, headers) -> (status, headers, body)`` with a
  werkzeug request, used by ``BotocoreStubber`` and ``convert_to_flask_response``;
* ``moto.moto_server.werkzeug_app`` (``DomainDispatcherApplication``, ``create_backend_app``,
  ``MotoRequestHandler``) for the server; it recognises SigV2 SimpleDB requests by
  ``Version=2009-04-15`` (``SERVICE_BY_VERSION``).
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING, Any

from . import controls
from .remote import RemoteControls

if TYPE_CHECKING:
    from moto.core.base_backend import BackendDict

    from .model import SimpleDBEngineBackend
    from .server import Server

__all__ = ["RemoteControls", "activate", "controls", "engine_backends", "start_server"]

_activation_lock = threading.Lock()
_backends: BackendDict[SimpleDBEngineBackend] | None = None
_HOST_PATTERN = r"https?://sdb(?:\.[^/]+)?\.amazonaws\.com"


def _all_regions() -> list[str]:
    """Every region botocore knows, in every partition: SimpleDB answers in all of them here."""
    import boto3

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
        import re

        import moto.backend_index as backend_index
        import moto.sdb
        import moto.sdb.models
        from moto.core.base_backend import BackendDict

        from .model import SimpleDBEngineBackend

        backends: BackendDict[SimpleDBEngineBackend] = BackendDict(
            SimpleDBEngineBackend, "sdb", use_boto3_regions=True, additional_regions=_all_regions()
        )
        target: Any
        for target in (moto.sdb, moto.sdb.models):
            target.sdb_backends = backends
        patterns = backend_index.backend_url_patterns
        patterns[:] = [entry for entry in patterns if entry[0] != "sdb"]
        patterns.insert(0, ("sdb", re.compile(_HOST_PATTERN)))
        _backends = backends


def engine_backends() -> BackendDict[SimpleDBEngineBackend]:
    """The engine's backends: ``engine_backends()[account_id][region]``."""
    activate()
    assert _backends is not None
    return _backends


def start_server(host: str = "127.0.0.1", port: int = 0) -> Server:
    """A threaded moto server with the engine, in this process; port 0 picks a free port."""
    from .server import start_server as _start

    return _start(host, port)
