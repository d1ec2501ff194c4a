"""The benchmark behind `make bench` (scripts/bench.py): local tooling, never deployed.

Three parts, kept apart so that each can be read and tested on its own:

* **measurement** (side effects, timed): ``engine`` runs ``python -m sdblocal.server`` in a process of its own;
  ``filling`` fills and profiles the benchmark domain; ``runs`` runs each measured job in a fresh child process
  (``jobs``) and collects its raw result; ``session`` plans which jobs run, in which order, at one size;
  ``machine`` records what the run was made on. Raw results are the dataclasses of ``results``.
* **arithmetic** (pure): ``arithmetic`` computes the least number of calls, ratios, projections and
  ceilings from raw results; ``targets`` judges them against the issue's targets.
* **reporting** (pure, tables only): ``tables`` renders Markdown tables (with ``tabulate``); ``document`` writes
  them into docs/PERFORMANCE.md between marker comments, keeps the raw results there, and leaves every
  hand-written word of the file alone.

Nothing is imported here: a job's child process imports only what its job uses (see ``jobs``).
"""
