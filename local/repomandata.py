"""Repoman-shaped SimpleDB data for the demo, the tests and the benchmark (local tooling, never deployed).

The packages are real: stanzas of Debian bookworm's package index (tests/fixtures/debian/Packages), turned
into items exactly as ``repoman-cli add`` would store them (``repomanauthoring.package_item``). To
reach 20,000 or 200,000 items the generator files each package into more distributions, builds it for arm64
as well as amd64, and adds binNMU-style rebuilds (``1.2-3+b1``, ``+b2``...), the way a long-lived internal
repository accumulates them. Everything is deterministic for a given ``seed`` and streams: only the 295
fixture stanzas are held in memory.

Checksums that no real file backs are synthetic and say so by construction: ``sha1`` (Debian's index no
longer carries SHA-1) and all checksums of derived packages are hashes of the .deb's file name.
"""

import functools
import hashlib
import itertools
import random
import re
from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any, NamedTuple

from repomanauthoring import (
    PackageFile,
    join_control_text,
    meta_after_checkup,
    meta_item,
    package_item,
    parse_control_fields,
    split_control_text,
)
from simpledb_backup.aws.simpledb import SimpleDB
from simpledb_backup.formats.repoman import KEY_ATTRIBUTES, META_ITEM_NAME, is_package_item, repoman_item_name
from simpledb_backup.items import MAX_BATCH_ITEMS, Item, make_item

FIXTURE_PATH = Path(__file__).resolve().parent.parent / "tests" / "fixtures" / "debian" / "Packages"

# A repository serving two releases under both their codenames and their suite names, as many do.
DISTRIBUTIONS = ("bookworm", "trixie", "stable", "testing")
COMPONENTS = ("main", "contrib", "non-free")
# Set up with these; the stored meta is what Repoman's health check then leaves (repoman_meta_item).
ARCHITECTURES = ("amd64", "arm64")
ORIGIN = "Example Corp"
LABEL = "example-internal"

_BINNMU_SUFFIX = re.compile(r"\+b(\d+)$")


class FixturePackage(NamedTuple):
    fields: tuple[tuple[str, str], ...]  # the stanza's fields in order
    name: str
    version: str
    architecture: str
    size: int
    md5: str
    sha256: str


class PackageChange(NamedTuple):
    old: Item
    new: Item


class Accident(NamedTuple):
    deleted: list[Item]
    meta_before: Item
    meta_after: Item


@functools.cache
def load_fixture(path: Path = FIXTURE_PATH) -> tuple[FixturePackage, ...]:
    """The fixture's stanzas, parsed once per process."""
    packages: list[FixturePackage] = []
    for stanza in path.read_text(encoding="utf-8").split("\n\n"):
        if not stanza.strip():
            continue
        fields = tuple(parse_control_fields(stanza))
        values = dict(fields)
        packages.append(
            FixturePackage(
                fields=fields,
                name=values["Package"],
                version=values["Version"],
                architecture=values["Architecture"],
                size=int(values["Size"]),
                md5=values["MD5sum"],
                sha256=values["SHA256"],
            )
        )
    return tuple(packages)


def repoman_meta_item() -> Item:
    """The ``meta`` item of the generated repository, as a repository in daily use stores it: set up with an
    origin and a label, then every command's health check (repomanauthoring.meta_after_checkup) has left
    ``test_data`` at ``foo``, blanked the origin to ``''`` and stored the ``all`` and ``source`` architectures.
    """
    return meta_after_checkup(meta_item(DISTRIBUTIONS, COMPONENTS, ARCHITECTURES, origin=ORIGIN, label=LABEL))


def deb_filename(name: str, version: str, architecture: str) -> str:
    """Debian's file name for a binary package: the epoch is not part of it."""
    return f"{name}_{version.split(':', 1)[-1]}_{architecture}.deb"


def synthetic_package_file(filename: str, size: int) -> PackageFile:
    """Checksums for a .deb that does not exist: hashes of its name, so they are unique and well-formed."""
    encoded = filename.encode("utf-8")
    return PackageFile(
        filename=filename,
        size=size,
        md5=hashlib.md5(encoded, usedforsecurity=False).hexdigest(),
        sha1=hashlib.sha1(encoded, usedforsecurity=False).hexdigest(),
        sha256=hashlib.sha256(encoded).hexdigest(),
    )


def _component_for(package: FixturePackage, seed: int) -> str:
    # Stable per package and seed: most packages in main, some in contrib and non-free.
    digest = hashlib.sha256(f"{seed}:{package.name}".encode()).digest()[0]
    return "main" if digest < 205 else "contrib" if digest < 243 else "non-free"


def _variant(package: FixturePackage, round_number: int) -> tuple[str, str, str]:
    """(distribution, architecture, version) of a package's ``round_number``-th placement; never repeats."""
    distribution = DISTRIBUTIONS[round_number % len(DISTRIBUTIONS)]
    rest = round_number // len(DISTRIBUTIONS)
    if package.architecture == "all":
        architecture, rebuild = "all", rest
    else:
        architecture, rebuild = ("amd64", "arm64")[rest % 2], rest // 2
    version = package.version if rebuild == 0 else f"{package.version}+b{rebuild}"
    return distribution, architecture, version


def _package_item(package: FixturePackage, round_number: int, component: str) -> Item:
    distribution, architecture, version = _variant(package, round_number)
    filename = deb_filename(package.name, version, architecture)
    if (architecture, version) == (package.architecture, package.version):
        real = package
        package_file = synthetic_package_file(filename, real.size)._replace(md5=real.md5, sha256=real.sha256)
    else:
        package_file = synthetic_package_file(filename, package.size)
    replaced = {"Version": version, "Architecture": architecture}
    stanza = "".join(f"{field}: {replaced.get(field, value)}\n" for field, value in package.fields)
    return package_item(stanza, distribution, component, package_file)


def repoman_domain_items(count: int | None = None, seed: int = 0) -> Iterator[Item]:
    """A Repoman domain's items: ``meta`` first, then ``count - 1`` package items (all of the fixture once if
    ``count`` is None). Deterministic for a seed; names are distinct; items are generated as they are
    consumed, so 200,000 of them stream in constant memory."""
    if count is not None and count < 1:
        raise ValueError(f"count must be at least 1 (the meta item), not {count}")
    packages = list(load_fixture())
    random.Random(seed).shuffle(packages)
    components = [_component_for(package, seed) for package in packages]
    yield repoman_meta_item()
    remaining = len(packages) if count is None else count - 1
    for round_number in itertools.count():
        for package, component in zip(packages, components, strict=True):
            if remaining <= 0:
                return
            yield _package_item(package, round_number, component)
            remaining -= 1


# --- writing to SimpleDB ----------------------------------------------------------------------------------


def put_items(sdb_client: Any, domain: str, items: Iterable[Item]) -> int:
    """Write items as the restore does (BatchPutAttributes, Replace on every pair); returns how many."""
    written = 0

    def counted() -> Iterator[Item]:
        nonlocal written
        for written, item in enumerate(items, start=1):  # noqa: B007 - the count is the point
            yield item

    SimpleDB(sdb_client).write_items(domain, counted())
    return written


def fill_domain(sdb_client: Any, domain: str, items: Iterable[Item]) -> int:
    """Create ``domain`` (a no-op when it exists) and write ``items`` into it; returns the number written.

    Batches hold up to 25 items and stay under BatchPutAttributes' 1 MB request limit; an item over a
    SimpleDB limit (such as 256 attribute pairs) raises LimitExceededError before its batch is sent.
    """
    sdb_client.create_domain(DomainName=domain)
    return put_items(sdb_client, domain, items)


def delete_items(sdb_client: Any, domain: str, item_names: Iterable[str]) -> int:
    """Delete whole items with BatchDeleteAttributes (no attributes listed means the whole item)."""
    deleted = 0
    for batch in itertools.batched(item_names, MAX_BATCH_ITEMS, strict=False):
        sdb_client.batch_delete_attributes(DomainName=domain, Items=[{"Name": name} for name in batch])
        deleted += len(batch)
    return deleted


# --- changes the demo makes -------------------------------------------------------------------------------


def bumped_package(item: Item) -> Item:
    """The next binNMU of a package item (``1.0-1`` → ``1.0-1+b1`` → ``+b2``), as Repoman would store it."""
    if not is_package_item(item):
        raise ValueError(f"item {item.name!r} is not a Repoman package item")
    name, version, distribution, component, architecture = (item.attributes[key][0] for key in KEY_ATTRIBUTES)
    match = _BINNMU_SUFFIX.search(version)
    new_version = f"{version[: match.start()]}+b{int(match.group(1)) + 1}" if match else f"{version}+b1"
    control_text = join_control_text(item.attributes).replace(
        f"\nVersion: {version}\n", f"\nVersion: {new_version}\n", 1
    )
    attributes = {
        attribute: values
        for attribute, values in item.attributes.items()
        if not attribute.startswith("controltxt")
    }
    attributes["version"] = (new_version,)
    if "filename" in attributes:
        size = int(attributes["size"][0]) if "size" in attributes else 0
        package_file = synthetic_package_file(deb_filename(name, new_version, architecture), size)
        attributes.update(
            filename=(package_file.filename,),
            md5=(package_file.md5,),
            sha1=(package_file.sha1,),
            sha256=(package_file.sha256,),
        )
    attributes.update({key: (value,) for key, value in split_control_text(control_text).items()})
    new_name = repoman_item_name(name, new_version, distribution, component, architecture)
    return Item(new_name, dict(sorted(attributes.items())))


def _pick_packages(items: Iterable[Item], count: int, seed: int) -> list[Item]:
    packages = [item for item in items if item.name != META_ITEM_NAME and is_package_item(item)]
    if count > len(packages):
        raise ValueError(f"asked for {count} packages but only {len(packages)} are given")
    return random.Random(seed).sample(packages, count)


def mutate_packages(
    sdb_client: Any, domain: str, items: Iterable[Item], count: int, seed: int = 0
) -> list[PackageChange]:
    """Upload a new build of ``count`` packages chosen from ``items`` (which should be in ``domain``).

    Like ``repoman-cli add`` of a new version followed by ``repoman-cli rm`` of the old one: the old item
    is deleted and the new one, under its new name, is written.
    """
    changes = [PackageChange(old, bumped_package(old)) for old in _pick_packages(items, count, seed)]
    delete_items(sdb_client, domain, (change.old.name for change in changes))
    put_items(sdb_client, domain, (change.new for change in changes))
    return changes


def simulate_accident(
    sdb_client: Any,
    domain: str,
    items: Iterable[Item],
    delete_count: int,
    seed: int = 0,
    damage_meta: Callable[[Item], Item] | None = None,
) -> Accident:
    """Delete ``delete_count`` packages chosen from ``items`` and rewrite ``meta`` with ``damage_meta``.

    By default the damage is a ``repoman-cli repo --rm-dist`` of the last distribution, which also drops
    ``origin``: the kind of slip that makes a repository stop serving a release.
    """
    item_list = list(items)
    meta_before = next((item for item in item_list if item.name == META_ITEM_NAME), None)
    if meta_before is None:
        raise ValueError("items hold no 'meta' item")
    deleted = _pick_packages(item_list, delete_count, seed)
    meta_after = (damage_meta or _drop_last_distribution)(meta_before)
    delete_items(sdb_client, domain, [item.name for item in deleted] + [META_ITEM_NAME])
    put_items(sdb_client, domain, [meta_after])
    return Accident(deleted=deleted, meta_before=meta_before, meta_after=meta_after)


def _drop_last_distribution(meta: Item) -> Item:
    pairs = [(key, value) for key, values in meta.attributes.items() if key != "origin" for value in values]
    dropped = meta.attributes["dists"][-1]
    return make_item(meta.name, [(key, value) for key, value in pairs if (key, value) != ("dists", dropped)])


def sample_packages(count: int, seed: int = 0) -> Sequence[Item]:
    """``count`` package items (no ``meta``), for tests that need a few realistic items."""
    return [item for item in repoman_domain_items(count + 1, seed) if item.name != META_ITEM_NAME]
