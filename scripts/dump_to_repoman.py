"""Convert a dump of a Repoman domain into the backup file `repoman-cli restore` reads.

SOURCE is a dump written by this service (gzip JSON Lines, docs/FORMAT.md): a local path, or
s3://bucket/key with an optional ?versionId=... to pick one version of dumps/<domain>/full.jsonl.gz.
The dump is read to its end and its checksum and counts verified before anything is written, so a damaged
dump never produces a backup file. The output is what `repoman-cli backup` prints, for

    repoman-cli restore backup.json

Exit codes: 0 done; 1 the dump is damaged, or is not of a Repoman domain; 2 bad arguments;
3 the source cannot be read (missing file or object, no access), or the output cannot be written.
"""

import argparse
import json
import os
import sys
import tempfile
from pathlib import Path
from typing import IO, Any, cast
from urllib.parse import parse_qs, unquote, urlsplit

sys.path[:0] = [str(Path(__file__).resolve().parent.parent / folder) for folder in ("layers/shared", "local")]

from repomanauthoring import RepomanBackup, repoman_backup_from_items  # noqa: E402
from simpledb_backup.dumpformat import read_dump  # noqa: E402
from simpledb_backup.errors import DumpCorruptError, InvalidRequestError  # noqa: E402

EXIT_OK = 0
EXIT_BAD_DUMP = 1
EXIT_USAGE = 2
EXIT_UNREADABLE = 3


class SourceError(Exception):
    """The source cannot be opened; the message says why."""


class S3Location:
    def __init__(self, url: str) -> None:
        parts = urlsplit(url)
        query = parse_qs(parts.query, keep_blank_values=True, strict_parsing=False)
        unknown = sorted(set(query) - {"versionId"})
        if not parts.netloc or not parts.path.strip("/") or unknown or parts.fragment:
            raise ValueError(
                f"{url!r} is not s3://bucket/key[?versionId=...]"
                + (f" (unknown {', '.join(unknown)})" if unknown else "")
            )
        self.bucket = parts.netloc
        self.key = unquote(parts.path[1:])  # %3F lets a key contain '?'
        versions = query.get("versionId", [])
        if len(versions) > 1 or (versions and not versions[0]):
            raise ValueError(f"{url!r}: give one non-empty versionId")
        self.version_id = versions[0] if versions else None


def open_s3(location: S3Location, region: str | None, endpoint_url: str | None) -> IO[bytes]:
    import boto3
    from botocore.exceptions import BotoCoreError, ClientError

    client = boto3.client("s3", region_name=region, endpoint_url=endpoint_url)
    request: dict[str, Any] = {"Bucket": location.bucket, "Key": location.key}
    if location.version_id:
        request["VersionId"] = location.version_id
    try:
        # botocore's StreamingBody is a readable binary stream, which is all read_dump needs.
        body = cast(IO[bytes], client.get_object(**request)["Body"])
    except ClientError as error:
        code = error.response.get("Error", {}).get("Code", "")
        version = f" version {location.version_id}" if location.version_id else ""
        raise SourceError(
            f"cannot read s3://{location.bucket}/{location.key}{version}: {code or error}"
        ) from error
    except BotoCoreError as error:
        raise SourceError(f"cannot reach S3: {error}") from error
    return body


def convert(stream: IO[bytes]) -> tuple[RepomanBackup, str, int]:
    """The backup document, the dumped domain's name and its item count.

    The reader checks the dump's trailer (counts and checksum) when its last line is read, which happens
    inside the conversion, before this returns: nothing is written from a damaged dump.
    """
    reader = read_dump(stream)
    document = repoman_backup_from_items(reader)
    return document, reader.header.domain, reader.totals.items


def write_output(text: str, output: str, force: bool) -> None:
    if output == "-":
        sys.stdout.write(text)
        return
    path = Path(output)
    if path.exists() and not force:
        raise FileExistsError(f"{path} exists; pass --force to replace it")
    # Written next to the target and renamed, so a reader never sees half a file.
    handle, temporary = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as file:
            file.write(text)
        Path(temporary).replace(path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("source", help="a dump file, or s3://bucket/key[?versionId=...]")
    parser.add_argument(
        "-o", "--output", default="-", help="the Repoman backup file to write (default: stdout)"
    )
    parser.add_argument("--force", action="store_true", help="replace an existing output file")
    parser.add_argument("--region", help="AWS region of the bucket (default: the environment's)")
    parser.add_argument(
        "--endpoint-url", help="S3 endpoint, e.g. a local server (default: AWS_ENDPOINT_URL or AWS)"
    )
    arguments = parser.parse_args(argv)

    try:
        if arguments.source.startswith("s3://"):
            try:
                location = S3Location(arguments.source)
            except ValueError as error:
                parser.print_usage(sys.stderr)
                print(f"dump_to_repoman: error: {error}", file=sys.stderr)
                return EXIT_USAGE
            with open_s3(location, arguments.region, arguments.endpoint_url) as stream:
                document, domain, item_count = convert(stream)
        else:
            try:
                with Path(arguments.source).open("rb") as stream:
                    document, domain, item_count = convert(stream)
            except OSError as error:
                raise SourceError(f"cannot read {arguments.source}: {error.strerror or error}") from error
    except SourceError as error:
        print(f"dump_to_repoman: {error}", file=sys.stderr)
        return EXIT_UNREADABLE
    except DumpCorruptError as error:
        print(f"dump_to_repoman: the dump is damaged, nothing written: {error}", file=sys.stderr)
        return EXIT_BAD_DUMP
    except InvalidRequestError as error:
        print(f"dump_to_repoman: not a Repoman domain, nothing written: {error}", file=sys.stderr)
        return EXIT_BAD_DUMP

    try:
        write_output(json.dumps(document, indent=2) + "\n", arguments.output, arguments.force)
    except OSError as error:
        print(f"dump_to_repoman: cannot write {arguments.output}: {error}", file=sys.stderr)
        return EXIT_UNREADABLE
    packages = item_count - 1
    target = "stdout" if arguments.output == "-" else arguments.output
    print(
        f"dump_to_repoman: {packages} packages and the meta item of domain {domain} written to {target}",
        file=sys.stderr,
    )
    return EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
