"""How the scripts that talk to a deployed stack (make alarms, make invoke) report AWS errors: one line on
stderr that says what to do, and exit code 2, instead of a traceback."""

import sys
from collections.abc import Callable

from botocore.exceptions import ClientError, NoCredentialsError, NoRegionError, PartialCredentialsError


def report_aws_errors(work: Callable[[], int], *expected: type[Exception]) -> int:
    """Run ``work``; errors from AWS (and the script's own ``expected`` ones) become a message and exit 2."""
    reported: tuple[type[Exception], ...] = (ClientError, *expected)
    try:
        return work()
    except (NoCredentialsError, PartialCredentialsError):
        print(
            "error: no AWS credentials found. Log in (aws sso login / aws configure) or set AWS_PROFILE.",
            file=sys.stderr,
        )
    except NoRegionError:
        print("error: no AWS region configured. Pass --region or set AWS_REGION.", file=sys.stderr)
    except reported as error:
        print(f"error: {error}", file=sys.stderr)
    return 2
