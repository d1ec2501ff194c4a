"""What the service reads and writes as bytes: the dump format, Repoman backup files, AWS native exports and
the bounded readers under them. Pure: no I/O of their own, no AWS.

May import the core modules only.
"""
