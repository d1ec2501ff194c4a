"""Adapters of the AWS services: SimpleDB (and its Select parser), S3, Lambda, the cached clients, the S3 keys,
the exclusive claims and the shared rate control. They translate botocore errors into the taxonomy of
``simpledb_backup.errors`` with ``raise ... from``.

May import the core modules and ``formats``; never ``backup``, ``restore`` or ``drill``.
"""
