"""The ``simpledb-backup`` console script's entry point: imports the command only once Ctrl-C is handled, so
that a Ctrl-C while Python starts up ends the command with one line and status 130, never a traceback."""

import sys


def main() -> int:
    try:
        from simpledb_backup_cli.app import main as run

        return run()
    except KeyboardInterrupt:
        sys.stderr.write("\ninterrupted (Ctrl-C) while starting; nothing was sent\n")
        return 130


if __name__ == "__main__":
    sys.exit(main())
