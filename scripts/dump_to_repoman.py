"""Convert a dump of a Repoman domain into the backup file `repoman-cli restore` reads.

SOURCE is a dump written by this service (gzip JSON Lines, docs/FORMAT.md): a local path, or
s3://bucket/key with an optional ?versionId=... to pick one version of dumps/<domain>/full.jsonl.gz (or of a
subset's dumps/<domain>/subset-<label>.jsonl.gz). Without a versionId the newest schedule or manual dump of
the key is converted, never a pre-restore safety backup, and the script says which version it took.
The dump is read to its end and its checksum and counts verified before anything is written, so a damaged
dump never produces a backup file. The output is what `repoman-cli backup` prints, for

    repoman-cli restore backup.json

A subset dump usually lacks the `meta` item (its where clause selected packages only), and Repoman's restore
needs one: it is taken from --meta-from FULL_DUMP (a path or an s3:// URL), or, for an s3:// source, from the
domain's latest full dump in the same bucket. The script says where it took it from.

Exit codes: 0 done; 1 the dump is damaged, or is not of a Repoman domain; 2 bad arguments;
3 the source cannot be read (missing file or object, no access), or the output cannot be written.
"""

import argparse
import json
import os
import sys
import tempfile
from collections.abc import Callable, Iterable, Iterator
from contextlib import closing
from pathlib import Path
from typing import IO
from urllib.parse import parse_qs, unquote, urlsplit

sys.path[:0] = [str(Path(__file__).resolve().parent.parent / folder) for folder in ("layers/shared", "local")]

from repomanauthoring import RepomanBackup, repoman_backup_from_items  # noqa: E402
from simpledb_backup.aws.keys import dump_key  # noqa: E402
from simpledb_backup.aws.s3store import BucketStore, DumpVersion, newest_dump  # noqa: E402
from simpledb_backup.errors import (  # noqa: E402
    DumpCorruptError,
    InvalidRequestError,
    ObjectNotFoundError,
    SimpleDBBackupError,
)
from simpledb_backup.formats.dumpformat import DumpHeader, read_dump  # noqa: E402
from simpledb_backup.formats.repoman import META_ITEM_NAME  # noqa: E402
from simpledb_backup.items import Item  # noqa: E402

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


def describe_version(version: DumpVersion) -> str:
    """One dump version in a few words, for the operator to check it is the one meant."""
    kind = "pre-restore safety backup" if version.is_pre_restore else f"{version.trigger or 'unknown'} dump"
    items = f", {version.item_count} items" if version.item_count is not None else ""
    return f"{kind} of {version.last_modified.isoformat()}{items}"


class S3Dumps:
    """Dump versions in one bucket, opened as streams; storage errors become SourceError."""

    def __init__(self, bucket: str, region: str | None, endpoint_url: str | None) -> None:
        import boto3

        self.store = BucketStore(boto3.client("s3", region_name=region, endpoint_url=endpoint_url), bucket)

    def choose(self, key: str, version_id: str | None) -> DumpVersion:
        """The version asked for, or the newest schedule or manual one of the key."""
        where = f"s3://{self.store.bucket}/{key}"
        try:
            if version_id:
                version = self.store.head(key, version_id)
            else:
                version = newest_dump(self.store, key)
                if version is None and self.store.head(key) is not None:
                    raise SourceError(
                        f"{where} holds only pre-restore safety backups; pick one with ?versionId="
                    )
        except ObjectNotFoundError as error:
            raise SourceError(f"cannot read {where} version {version_id}: {error}") from error
        except SimpleDBBackupError as error:
            raise SourceError(f"cannot read {where}: {error}") from error
        if version is None:
            raise SourceError(f"cannot read {where}: no such object")
        return version

    def open(self, version: DumpVersion) -> IO[bytes]:
        try:
            return self.store.open(version.key, version.version_id)
        except SimpleDBBackupError as error:
            raise SourceError(f"cannot read s3://{self.store.bucket}/{version.key}: {error}") from error

    def url(self, version: DumpVersion) -> str:
        return f"s3://{self.store.bucket}/{version.key}?versionId={version.version_id}"


def open_s3(location: S3Location, region: str | None, endpoint_url: str | None) -> IO[bytes]:
    """One dump version's stream: the one the URL names, else the newest schedule or manual one (said)."""
    dumps = S3Dumps(location.bucket, region, endpoint_url)
    version = dumps.choose(location.key, location.version_id)
    chosen = "" if location.version_id else "; the newest schedule or manual dump"
    note(f"converting {dumps.url(version)} ({describe_version(version)}{chosen})")
    return dumps.open(version)


def note(message: str) -> None:
    print(f"dump_to_repoman: {message}", file=sys.stderr)


def meta_of(stream: IO[bytes], where: str) -> Item:
    """The ``meta`` item of a full dump, read through (and so verified) to its end."""
    meta: Item | None = None
    with closing(stream):
        for item in read_dump(stream):
            if item.name == META_ITEM_NAME:
                meta = item
    if meta is None:
        raise InvalidRequestError(f"{where} has no 'meta' item either")
    return meta


MetaSource = Callable[[DumpHeader], Item]


def with_meta(items: Iterable[Item], header: DumpHeader, meta_source: MetaSource | None) -> Iterator[Item]:
    """The dump's items, and for a subset dump without ``meta`` the one ``meta_source`` gives."""
    seen = False
    for item in items:
        seen = seen or item.name == META_ITEM_NAME
        yield item
    if seen or header.label is None:
        return
    if meta_source is None:
        raise InvalidRequestError(
            f"subset dump {header.label!r} ({header.where}) has no 'meta' item, which repoman-cli restore "
            "needs: pass --meta-from FULL_DUMP (an s3:// source takes it from the domain's latest full dump)"
        )
    yield meta_source(header)


def convert(
    stream: IO[bytes], meta_source: MetaSource | None = None
) -> tuple[RepomanBackup, str, int, DumpHeader]:
    """The backup document, the dumped domain's name, its item count and the dump's header.

    The reader checks the dump's trailer (counts and checksum) when its last line is read, which happens
    inside the conversion, before this returns: nothing is written from a damaged dump.
    """
    reader = read_dump(stream)
    document = repoman_backup_from_items(with_meta(reader, reader.header, meta_source))
    return document, reader.header.domain, reader.totals.items, reader.header


def meta_source_for(arguments: argparse.Namespace, location: S3Location | None) -> MetaSource | None:
    """Where a subset dump's ``meta`` comes from: --meta-from, else the latest full dump next to an s3://
    source; None for a local source without --meta-from."""
    region, endpoint = arguments.region, arguments.endpoint_url

    def from_meta_option(header: DumpHeader) -> Item:
        source = str(arguments.meta_from)
        if source.startswith("s3://"):
            stream = open_s3(S3Location(source), region, endpoint)
        else:
            stream = open_local(source)
        note(f"the subset dump has no 'meta' item: taking it from {source}")
        return meta_of(stream, source)

    def from_latest_full_dump(header: DumpHeader) -> Item:
        assert location is not None
        dumps = S3Dumps(location.bucket, region, endpoint)
        version = dumps.choose(dump_key(header.domain), None)
        note(
            f"the subset dump has no 'meta' item: taking it from {dumps.url(version)} ({describe_version(version)})"
        )
        return meta_of(dumps.open(version), dumps.url(version))

    if arguments.meta_from:
        return from_meta_option
    return from_latest_full_dump if location is not None else None


def open_local(path: str) -> IO[bytes]:
    try:
        return Path(path).open("rb")
    except OSError as error:
        raise SourceError(f"cannot read {path}: {error.strerror or error}") from error


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


def parse_arguments(argv: list[str] | None) -> tuple[argparse.ArgumentParser, argparse.Namespace]:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("source", help="a dump file, or s3://bucket/key[?versionId=...]")
    parser.add_argument(
        "-o", "--output", default="-", help="the Repoman backup file to write (default: stdout)"
    )
    parser.add_argument("--force", action="store_true", help="replace an existing output file")
    parser.add_argument(
        "--meta-from",
        metavar="FULL_DUMP",
        help="for a subset dump: the full dump (path or s3:// URL) whose 'meta' item to use",
    )
    parser.add_argument("--region", help="AWS region of the bucket (default: the environment's)")
    parser.add_argument(
        "--endpoint-url", help="S3 endpoint, e.g. a local server (default: AWS_ENDPOINT_URL or AWS)"
    )
    return parser, parser.parse_args(argv)


def convert_source(
    arguments: argparse.Namespace, location: S3Location | None
) -> tuple[RepomanBackup, str, int]:
    """Read, verify and convert the source; raises SourceError, DumpCorruptError or InvalidRequestError."""
    if location is not None:
        stream = open_s3(location, arguments.region, arguments.endpoint_url)
    else:
        stream = open_local(arguments.source)
    with closing(stream):
        document, domain, item_count, header = convert(stream, meta_source_for(arguments, location))
    if header.label is not None:
        note(f"subset {header.label!r} of {domain} (where {header.where})")
    return document, domain, item_count


def main(argv: list[str] | None = None) -> int:
    parser, arguments = parse_arguments(argv)
    try:
        location = S3Location(arguments.source) if arguments.source.startswith("s3://") else None
        if (arguments.meta_from or "").startswith("s3://"):
            S3Location(arguments.meta_from)  # checked before anything is read
    except ValueError as error:
        parser.print_usage(sys.stderr)
        note(f"error: {error}")
        return EXIT_USAGE
    try:
        document, domain, item_count = convert_source(arguments, location)
    except SourceError as error:
        note(str(error))
        return EXIT_UNREADABLE
    except DumpCorruptError as error:
        note(f"the dump is damaged, nothing written: {error}")
        return EXIT_BAD_DUMP
    except InvalidRequestError as error:
        note(f"not a Repoman domain, nothing written: {error}")
        return EXIT_BAD_DUMP
    try:
        write_output(json.dumps(document, indent=2) + "\n", arguments.output, arguments.force)
    except OSError as error:
        note(f"cannot write {arguments.output}: {error}")
        return EXIT_UNREADABLE
    packages = sum(
        len(entries)
        for dists in document["packages"].values()
        for comps in dists.values()
        for archs in comps.values()
        for entries in archs.values()
    )
    target = "stdout" if arguments.output == "-" else arguments.output
    note(
        f"{packages} packages and the meta item of domain {domain} written to {target} ({item_count} items read)"
    )
    return EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
