"""``python -m simpledb_backup_cli``: the same as the ``simpledb-backup`` console script."""

import sys

from simpledb_backup_cli.entry import main

sys.exit(main())
