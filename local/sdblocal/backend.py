"""moto's view of the engine: one :class:`SimpleDBEngineBackend` per account and region.

A moto ``BaseBackend`` so that moto's own reset (``mock_aws()`` start/stop, ``POST /moto-api/reset``,
``BackendDict.reset()``) clears the engine with every other service: ``BaseBackend.reset`` runs
``__init__`` again, which builds a fresh :class:`~sdblocal.engine.SimpleDBEngine`.
"""

from __future__ import annotations

from types import ModuleType

from moto.core.base_backend import BaseBackend

from . import urls
from .engine import SimpleDBEngine


class SimpleDBEngineBackend(BaseBackend):
    """The SimpleDB engine of one account in one region, as moto keeps it."""

    def __init__(self, region_name: str, account_id: str) -> None:
        super().__init__(region_name, account_id)
        self.engine = SimpleDBEngine()

    @property
    def _url_module(self) -> ModuleType:
        # moto derives a backend's URL table from "<backend module>.urls" by default; ours is sdblocal.urls.
        return urls
