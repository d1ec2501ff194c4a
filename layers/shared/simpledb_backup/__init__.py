"""simpledb-backup: the shared package of the backup and restore functions (deployed as a Lambda layer)."""

__version__ = "1.0.0"
TOOL_NAME = "simpledb-backup"
