"""The measured jobs, one module each, each run in a fresh child process by benchkit.runs:

    python -m benchkit.jobs.<operation>_<run> <spec.json> <result.json>

A job module imports at its top exactly what its job uses, so that the children's import footprints (part of
their peak RSS) differ only by that; ``child`` is the harness they share (standard library only).
"""
