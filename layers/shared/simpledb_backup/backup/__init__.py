"""The backup: one invocation's work list (``request``), a domain's run (``service``) and the parallel Select
streams it reads with (``scan``).

May import the core modules, ``formats`` and ``aws``; never ``restore`` or ``drill``.
"""
