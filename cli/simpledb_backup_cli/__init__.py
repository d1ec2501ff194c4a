"""`simpledb-backup`: the operator's command line for the backup and restore functions.

    simpledb-backup [--local | --stack-name NAME] COMMAND DOMAIN [options]

Every command sends one event to a function, built from the functions' own event models
(simpledb_backup.events), and shows the answer: readable by default, exactly as the function gave it with
``--json``. The deployed functions are invoked through the Lambda API (``--stack-name``); ``--local`` runs the
same handlers in this process, as `make invoke-local` does.
"""
