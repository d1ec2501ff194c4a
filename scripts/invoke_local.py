"""`make invoke-local FN=backup|restore EVENT=events/<file>.json`: run a handler in-process, without Docker.

Against the endpoint in AWS_ENDPOINT_URL when it is set (for example `make local-aws` in another terminal),
otherwise against an embedded local AWS that this command starts and seeds with the backup bucket and a
Repoman-shaped `packages` domain, so every event in events/ can run at once.
"""

import argparse
import json
import os
import sys
from pathlib import Path

sys.path[:0] = [str(Path(__file__).resolve().parent.parent / folder) for folder in ("layers/shared", "local")]

from localrun import (  # noqa: E402
    FUNCTIONS,
    invoke,
    seed_local_stack,
    start_embedded_aws,
    use_function_environment,
)


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("function", choices=sorted(FUNCTIONS))
    parser.add_argument("event", type=Path, help="a JSON event file, e.g. events/backup-nightly.json")
    arguments = parser.parse_args()
    try:
        event = json.loads(arguments.event.read_text())
    except (OSError, json.JSONDecodeError) as error:
        print(f"cannot read the event {arguments.event}: {error}", file=sys.stderr)
        return 2
    environment = use_function_environment(arguments.function)
    server = None
    if not os.environ.get("AWS_ENDPOINT_URL"):
        server = start_embedded_aws()
        print(f"embedded local AWS at {server.url}", file=sys.stderr)
        first_domain = environment["DOMAIN_NAMES"].split(",")[0]
        seeded = seed_local_stack(environment["BACKUP_BUCKET"], first_domain, item_count=500)
        print(
            f"seeded bucket {seeded['bucket']['bucket']} and domain {first_domain} ({seeded['items']} items)",
            file=sys.stderr,
        )
        if arguments.function == "restore":
            invoke("backup", {"trigger": "manual"})
            print("made a first dump so the restore event has one to read", file=sys.stderr)
    try:
        responses = invoke(arguments.function, event)
    except Exception as error:  # the handler's own error, shown as Lambda would report it
        print(json.dumps({"errorType": type(error).__name__, "errorMessage": str(error)}, indent=2))
        return 1
    finally:
        if server is not None:
            server.stop()
    for response in responses:
        print(json.dumps(response, indent=2, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main())
