"""sdblocal: a faithful Amazon SimpleDB engine plugged into moto, for tests, demos and benchmarks.

    import sdblocal
    sdblocal.activate()     # then moto.mock_aws() and moto's server serve all ten SimpleDB operations

It is test and local-run infrastructure, not Lambda code.

The package is layered so that imports form no cycle (tests/engine/test_layout.py checks it)::

    errors, xmltext, throttle, forms   leaves
    controls  <- throttle          remote <- controls
    model     <- errors            select <- model, xmltext, errors, simpledb_backup.selectgrammar
    engine    <- model, select     responses <- engine, model, select, controls, xmltext, forms
    urls      <- responses         backend <- engine, urls
    activation <- backend          serving <- activation, controls, responses
    server (``python -m``) <- serving, controls
    capacity (``python -m``) <- remote (measures a server over HTTP)
    sdblocal (this module) <- activation, controls, remote, serving

moto internals it relies on are listed in sdblocal/activation.py and docs/ENGINE.md.
"""

from __future__ import annotations

from . import controls
from .activation import activate, engine_backends
from .remote import RemoteControls
from .serving import Server, start_server

__all__ = ["RemoteControls", "Server", "activate", "controls", "engine_backends", "start_server"]
