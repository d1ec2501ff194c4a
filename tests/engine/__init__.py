"""Conformance suite of the SimpleDB engine (local/sdblocal)."""
