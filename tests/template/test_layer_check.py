"""The layer check (scripts/check_layer.py, run by `make build`): over `sam build`'s output where one exists, and
always over small builds made here, so that the checker itself is tested: a foreign architecture, a glibc too
new, a wheel for another platform and an oversized function are each refused."""

import struct
from pathlib import Path

import pytest
from cfnsupport import REPO_ROOT

from localrun import load_script

check_layer = load_script("check_layer")
SAM_BUILD = REPO_ROOT / ".aws-sam" / "build"
EM_AARCH64, EM_X86_64 = 183, 62


def elf(machine: int) -> bytes:
    """The smallest ELF a loader would look at: a 64-bit little-endian shared object header, no sections."""
    identification = b"\x7fELF" + bytes([2, 1, 1, 0]) + bytes(8)
    header = struct.pack("<HHIQQQIHHHHHH", 3, machine, 1, 0, 0, 0, 0, 64, 0, 0, 64, 0, 0)
    return identification + header


def wheel(tags: list[str], pure: bool = False) -> str:
    lines = ["Wheel-Version: 1.0", f"Root-Is-Purelib: {'true' if pure else 'false'}"]
    return "\n".join(lines + [f"Tag: {tag}" for tag in tags]) + "\n"


def tiny_build(
    root: Path, machine: int = EM_AARCH64, tags: tuple[str, ...] = ("cp313-cp313-manylinux_2_17_aarch64",)
) -> Path:
    layer = root / "SharedLayer" / "python"
    (layer / "fastthing").mkdir(parents=True)
    (layer / "fastthing" / "_speedups.cpython-313-aarch64-linux-gnu.so").write_bytes(elf(machine))
    (layer / "fastthing-1.0.dist-info").mkdir()
    (layer / "fastthing-1.0.dist-info" / "WHEEL").write_text(wheel(list(tags)))
    (layer / "purething-1.0.dist-info").mkdir()
    (layer / "purething-1.0.dist-info" / "WHEEL").write_text(wheel(["py3-none-any"], pure=True))
    function = root / "BackupFunction"
    function.mkdir()
    (function / "backup_handler.py").write_text("def lambda_handler(event, context):\n    return {}\n")
    return root


def check(build: Path) -> list[str]:
    return check_layer.check_build(build, ["SharedLayer"], ["BackupFunction"]).problems  # type: ignore[no-any-return]


def test_a_good_build_passes(tmp_path: Path) -> None:
    report = check_layer.check_build(tiny_build(tmp_path), ["SharedLayer"], ["BackupFunction"])
    assert report.problems == []
    assert (report.elf_files, report.wheels) == (1, 2)


def test_an_extension_for_another_architecture_is_refused(tmp_path: Path) -> None:
    (problem,) = check(tiny_build(tmp_path, machine=EM_X86_64))
    assert "_speedups" in problem
    assert "EM_X86_64, not aarch64" in problem


def test_a_real_x86_64_extension_is_refused(tmp_path: Path) -> None:
    build = tiny_build(tmp_path)
    lxml = next(
        (Path(check_layer.__file__).resolve().parents[1] / ".venv").glob(
            "lib/python3*/site-packages/lxml/etree*.so"
        )
    )
    (build / "SharedLayer" / "python" / "etree.so").write_bytes(lxml.read_bytes())
    problems = check(build)
    assert any("etree.so: built for EM_X86_64" in problem for problem in problems), problems


@pytest.mark.parametrize(
    ("names", "needed"),
    [
        (["GLIBC_2.17", "GLIBC_2.28", "GLIBCXX_3.4.30", "GLIBC_PRIVATE"], (2, 28)),
        (["GLIBC_2.34", "GLIBC_2.3.4"], (2, 34)),
        (["GLIBC_2.38"], (2, 38)),
        ([], None),
    ],
)
def test_glibc_needed_is_the_newest_version_asked_for(
    names: list[str], needed: tuple[int, int] | None
) -> None:
    assert check_layer.glibc_needed(names) == needed
    if needed is not None:
        assert (needed <= check_layer.RUNTIME_GLIBC) is (needed[1] <= 34)


@pytest.mark.parametrize(
    ("tags", "fits"),
    [
        (("cp313-cp313-manylinux_2_17_aarch64", "cp313-cp313-manylinux2014_aarch64"), True),
        (("cp313-cp313-manylinux_2_34_aarch64",), True),
        (("cp313-cp313-manylinux_2_35_aarch64",), False),  # newer than Amazon Linux 2023's glibc
        (("cp313-cp313-manylinux_2_17_x86_64",), False),
        (("cp313-cp313-musllinux_1_2_aarch64",), False),
        (("cp313-cp313-macosx_11_0_arm64",), False),
    ],
)
def test_wheels_must_be_manylinux_aarch64_within_the_runtimes_glibc(
    tmp_path: Path, tags: tuple[str, ...], fits: bool
) -> None:
    problems = [problem for problem in check(tiny_build(tmp_path, tags=tags)) if "WHEEL" in problem]
    assert (problems == []) is fits, problems


def test_a_function_and_its_layers_over_the_margin_are_refused(tmp_path: Path) -> None:
    build = tiny_build(tmp_path)
    big = build / "SharedLayer" / "python" / "data.bin"
    with big.open("wb") as handle:
        handle.truncate(
            int(check_layer.UNZIPPED_LIMIT_BYTES * check_layer.MARGIN) + 1
        )  # sparse: no disk used
    (problem,) = check(build)
    assert problem.startswith("BackupFunction:")
    assert "over 80% of Lambda's 262 MB" in problem


def test_a_missing_build_is_reported(tmp_path: Path) -> None:
    assert check_layer.check_build(tmp_path, ["SharedLayer"], ["BackupFunction"]).problems == [
        f"SharedLayer: not built ({tmp_path / 'SharedLayer'} is missing)",
        f"BackupFunction: not built ({tmp_path / 'BackupFunction'} is missing)",
    ]


def test_the_template_names_what_sam_builds() -> None:
    layers, functions = check_layer.built_resources(REPO_ROOT / "template.yaml")
    assert layers == ["SharedLayer"]
    assert sorted(functions) == ["BackupFunction", "DrillFunction", "RestoreFunction"]


@pytest.mark.skipif(not SAM_BUILD.is_dir(), reason="no sam build here (make build makes one)")
def test_the_sam_build_passes_the_layer_check() -> None:
    layers, functions = check_layer.built_resources(REPO_ROOT / "template.yaml")
    report = check_layer.check_build(SAM_BUILD, layers, functions)
    assert report.problems == []
    assert report.elf_files > 0  # lxml, orjson, isal, ijson, pydantic-core: the check saw them
