"""Every S3 key the service reads or writes, built in one place (docs/DESIGN.md lists them)."""

DUMPS_PREFIX = "dumps/"
CHECKPOINTS_PREFIX = "checkpoints/"
LOCKS_PREFIX = "locks/"
RESTORES_PREFIX = "restores/"
#: Drill runs are stored apart from restore runs, so that the drill's role is granted its own states only.
DRILLS_PREFIX = "drills/"
#: The run ids of drills (runtime.new_run_id("drill")).
DRILL_RUN_ID_PREFIX = "drill-"
IMPORTS_PREFIX = "imports/"


def dump_key(domain: str, label: str | None = None) -> str:
    """One key per domain for full dumps; a labelled subset gets a key of its own, never the full dump's."""
    return (
        f"{DUMPS_PREFIX}{domain}/subset-{label}.jsonl.gz"
        if label
        else f"{DUMPS_PREFIX}{domain}/full.jsonl.gz"
    )


def checkpoint_key(run_id: str, name: str) -> str:
    """A backup run's working objects: its state, pending bytes, staging upload and continuation claims."""
    return f"{CHECKPOINTS_PREFIX}{run_id}/{name}"


def lock_key(target: str) -> str:
    """The lock a restore (or a drill, on its scratch domain) holds on its target domain for as long as it
    runs."""
    return f"{LOCKS_PREFIX}{target}.lock"


def last_restore_key(target: str) -> str:
    """When a restore last began to write a domain: a backup running meanwhile must not publish (its dump would
    mix the state before and after)."""
    return f"{LOCKS_PREFIX}{target}.last-restore"


def status_key(run_id: str) -> str:
    """A run's saved state and status: ``drills/`` for a drill run, ``restores/`` for a restore run (read by the
    ``status`` action)."""
    prefix = DRILLS_PREFIX if run_id.startswith(DRILL_RUN_ID_PREFIX) else RESTORES_PREFIX
    return f"{prefix}{run_id}.json"
