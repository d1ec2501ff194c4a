"""`make invoke-local FN=backup|restore EVENT=events/<file>.json`: run a handler in-process, without Docker.

Against the endpoint in AWS_ENDPOINT_URL when it is set (for example `make local-aws` in another terminal),
otherwise against an embedded local AWS that this command starts and seeds with the backup bucket and a
Repoman-shaped domain, so every event in events/ can run at once.

Fit for scripts: the function's environment is events/env.json with this process's environment on top
(`DOMAIN_NAMES=... BACKUP_BUCKET=... make invoke-local ...`); stdout carries only the function's answer as JSON
(the last invocation's, when the function continued itself), and everything else, the functions' logs and
metric records included, goes to stderr.

Exit status, as `make invoke`: 0 the function answered; 3 it answered but refused the request or the restore
failed; 1 the function raised an error; 2 the event could not be read.
"""

import argparse
import json
import sys
from pathlib import Path
from typing import Any

sys.path[:0] = [str(Path(__file__).resolve().parent.parent / folder) for folder in ("layers/shared", "local")]

from localrun import FUNCTIONS, Invocations, local_stack  # noqa: E402

ANSWERED, RAISED, UNREADABLE_EVENT, REFUSED_OR_FAILED = 0, 1, 2, 3


def exit_status(answer: Any) -> int:
    refused = isinstance(answer, dict) and answer.get("status") in {"refused", "failed"}
    return REFUSED_OR_FAILED if refused else ANSWERED


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("function", choices=sorted(FUNCTIONS))
    parser.add_argument("event", type=Path, help="a JSON event file, e.g. events/backup-nightly.json")
    arguments = parser.parse_args(argv)
    try:
        event = json.loads(arguments.event.read_text())
    except (OSError, json.JSONDecodeError) as error:
        print(f"cannot read the event {arguments.event}: {error}", file=sys.stderr)
        return UNREADABLE_EVENT
    answer: Any = None
    raised: Exception | None = None
    # Inside local_stack, stdout is the functions' (sent to stderr): the answer is printed after it.
    with local_stack(arguments.function, sys.stderr, lambda line: print(line, file=sys.stderr)):
        try:
            for number, answer in enumerate(Invocations(arguments.function, event), start=1):
                if isinstance(answer, dict) and answer.get("status") == "continued":
                    print(f"invocation {number} continued in a new invocation", file=sys.stderr)
        except Exception as error:  # the handler's own error, reported below as Lambda reports it
            raised = error
    if raised is not None:
        print(json.dumps({"errorType": type(raised).__name__, "errorMessage": str(raised)}, indent=2))
        print(f"error: the {arguments.function} function raised {type(raised).__name__}", file=sys.stderr)
        return RAISED
    print(json.dumps(answer, indent=2, default=str))
    return exit_status(answer)


if __name__ == "__main__":
    sys.exit(main())
