"""moto's URL table for the engine: which hosts and paths reach ``responses.sdb_dispatch``.

moto builds a backend's routes from the ``url_bases``/``url_paths`` of its ``urls`` module (see
``SimpleDBEngineBackend._url_module``). Unlike moto's own sdb table, the host pattern also accepts
``sdb.amazonaws.com``, the us-east-1 endpoint.
"""

from __future__ import annotations

from .responses import sdb_dispatch

url_bases = [r"https?://sdb(?:\.[^/]+)?\.amazonaws\.com"]

url_paths = {"{0}/$": sdb_dispatch}
