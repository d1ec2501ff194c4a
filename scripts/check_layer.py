"""The layer check, run by `make build` after `sam build` (and by tests/template/test_layer_check.py): what Lambda's
arm64 python3.13 runtime (Amazon Linux 2023) would refuse at import time, or at deploy time, is found here.

- every ELF file in the built layer and functions (the compiled extensions of lxml, orjson, isal, ijson,
  pydantic-core, ...) is aarch64 (its header's e_machine), and needs no newer glibc than Amazon Linux 2023's
  2.34 (the GLIBC_x.y versions its .gnu.version_r section asks for; pyelftools reads both);
- every installed wheel that is not pure Python carries a platform tag the runtime accepts: manylinux (2014,
  or PEP 600's manylinux_x_y with x.y at most 2.34) for aarch64 (its *.dist-info/WHEEL, read with packaging);
- a function and its layers, unzipped, stay under Lambda's 250 MB limit with a margin (80 % of it).

    python scripts/check_layer.py [.aws-sam/build]    # exit 1 and one line per problem when something fails
"""

from __future__ import annotations

import argparse
import re
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from elftools.common.exceptions import ELFError
from elftools.elf.elffile import ELFFile
from elftools.elf.gnuversions import GNUVerNeedSection
from packaging.tags import parse_tag

#: Amazon Linux 2023, the python3.13 runtime's OS: glibc 2.34.
RUNTIME_GLIBC = (2, 34)
#: Lambda's limit on a function's unzipped code and layers together (250 MB), and the share of it we allow.
UNZIPPED_LIMIT_BYTES = 262_144_000
MARGIN = 0.8
ELF_MAGIC = b"\x7fELF"
_MANYLINUX = re.compile(r"manylinux_(\d+)_(\d+)_(\w+)")
#: The legacy manylinux tags and the glibc they stand for (PEP 599).
_LEGACY_MANYLINUX = {"manylinux2014": (2, 17), "manylinux2010": (2, 12), "manylinux1": (2, 5)}
_GLIBC_VERSION = re.compile(r"GLIBC_(\d+)\.(\d+)(?:\.(\d+))?")


@dataclass
class Report:
    """What the check saw and what it refuses."""

    elf_files: int = 0
    wheels: int = 0
    sizes: dict[str, int] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)


def glibc_needed(version_names: list[str]) -> tuple[int, int] | None:
    """The newest glibc among an ELF file's version needs (``GLIBC_2.17``, ...), or None when it needs none."""
    versions = [
        (int(match.group(1)), int(match.group(2)))
        for name in version_names
        if (match := _GLIBC_VERSION.fullmatch(name))
    ]
    return max(versions) if versions else None


def elf_problems(path: Path, shown: str) -> list[str]:
    """Why the runtime could not load this ELF file (none: it can)."""
    try:
        with path.open("rb") as handle:
            elf = ELFFile(handle)
            machine = elf.header["e_machine"]
            names = [
                auxiliary.name
                for section in elf.iter_sections()
                if isinstance(section, GNUVerNeedSection)
                for _, auxiliaries in section.iter_versions()
                for auxiliary in auxiliaries
            ]
    except ELFError as error:
        return [f"{shown}: not a readable ELF file ({error})"]
    problems = []
    if machine != "EM_AARCH64":
        problems.append(f"{shown}: built for {machine}, not aarch64 (EM_AARCH64)")
    needed = glibc_needed(names)
    if needed is not None and needed > RUNTIME_GLIBC:
        problems.append(
            f"{shown}: needs glibc {needed[0]}.{needed[1]}, the runtime has {RUNTIME_GLIBC[0]}.{RUNTIME_GLIBC[1]}"
        )
    return problems


def platform_fits(platform: str) -> bool:
    """Whether a wheel's platform tag runs on the arm64 python3.13 runtime."""
    if platform == "any":
        return True
    if (match := _MANYLINUX.fullmatch(platform)) is not None:
        glibc = (int(match.group(1)), int(match.group(2)))
        return match.group(3) == "aarch64" and glibc <= RUNTIME_GLIBC
    legacy, _, arch = platform.partition("_")
    return legacy in _LEGACY_MANYLINUX and arch == "aarch64"


def wheel_problems(wheel_file: Path, shown: str) -> list[str]:
    """A non-pure wheel must carry at least one platform tag that fits."""
    fields = [line.partition(":") for line in wheel_file.read_text(encoding="utf-8").splitlines()]
    values = [(name.strip(), value.strip()) for name, _, value in fields]
    if ("Root-Is-Purelib", "true") in values:
        return []
    platforms = {tag.platform for name, value in values if name == "Tag" for tag in parse_tag(value)}
    if any(platform_fits(platform) for platform in platforms):
        return []
    return [
        f"{shown}: wheel for {', '.join(sorted(platforms)) or 'no platform'}, none manylinux aarch64 <= 2.34"
    ]


def _files(root: Path) -> Iterator[Path]:
    yield from (path for path in sorted(root.rglob("*")) if path.is_file() and not path.is_symlink())


def _is_elf(path: Path) -> bool:
    with path.open("rb") as handle:
        return handle.read(4) == ELF_MAGIC


def directory_size(root: Path) -> int:
    return sum(path.stat().st_size for path in _files(root))


def check_build(build: Path, layers: list[str], functions: list[str]) -> Report:
    """Check ``build`` (``sam build``'s output): the named layer and function directories under it."""
    report = Report()
    for name in [*layers, *functions]:
        root = build / name
        if not root.is_dir():
            report.problems.append(f"{name}: not built ({root} is missing)")
            continue
        report.sizes[name] = directory_size(root)
        for path in _files(root):
            shown = str(path.relative_to(build))
            if path.name == "WHEEL" and path.parent.name.endswith(".dist-info"):
                report.wheels += 1
                report.problems += wheel_problems(path, shown)
            elif _is_elf(path):
                report.elf_files += 1
                report.problems += elf_problems(path, shown)
    layers_size = sum(report.sizes.get(name, 0) for name in layers)
    for function in functions:
        total = report.sizes.get(function, 0) + layers_size
        if total > UNZIPPED_LIMIT_BYTES * MARGIN:
            report.problems.append(
                f"{function}: {total / 1e6:.1f} MB unzipped with its layers, over {MARGIN:.0%} of Lambda's "
                f"{UNZIPPED_LIMIT_BYTES / 1e6:.0f} MB"
            )
    return report


def built_resources(template: Path) -> tuple[list[str], list[str]]:
    """The template's layers and functions (their ``sam build`` directories are named by logical id)."""
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "local"))
    from stackbucket import load_template

    resources = load_template(template)["Resources"]
    kinds: dict[str, list[str]] = {"AWS::Serverless::LayerVersion": [], "AWS::Serverless::Function": []}
    for logical_id, resource in resources.items():
        if isinstance(resource, dict) and resource.get("Type") in kinds:
            kinds[resource["Type"]].append(logical_id)
    return kinds["AWS::Serverless::LayerVersion"], kinds["AWS::Serverless::Function"]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("build", nargs="?", default=".aws-sam/build", type=Path)
    parser.add_argument(
        "--template", default=Path(__file__).resolve().parents[1] / "template.yaml", type=Path
    )
    arguments = parser.parse_args(argv)
    layers, functions = built_resources(arguments.template)
    report = check_build(arguments.build, layers, functions)
    sizes = ", ".join(f"{name} {size / 1e6:.1f} MB" for name, size in report.sizes.items())
    print(f"layer check: {report.elf_files} ELF files, {report.wheels} wheels; unzipped: {sizes}")
    for problem in report.problems:
        print(f"  {problem}")
    return 1 if report.problems else 0


if __name__ == "__main__":
    sys.exit(main())
