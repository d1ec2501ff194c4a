"""Decompression bombs and oversized files for tests/integration/test_memory_bounds.py, built as streams.

``gzip_bomb`` writes a valid gzip file whose content is ``prefix``, then ``filler`` repeated to ``size``
bytes, then ``suffix``, without ever compressing (or holding) the filler: one compressed block of a MiB of
filler, encoded after a MiB of the same filler, decodes the same wherever it is repeated, because everything
it refers back to is filler. The CRC-32 of the repeated filler is combined arithmetically (zlib's
``crc32_combine``), so a 3 GiB bomb takes milliseconds and about a megabyte to make.
"""

import struct
import zlib
from collections.abc import Iterator
from pathlib import Path

_CHUNK = 1 << 20
_GZIP_HEADER = (
    b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x02\xff"  # deflate, no name, no time, max compression, unknown OS
)


def _gf2_times(matrix: list[int], vector: int) -> int:
    total, index = 0, 0
    while vector:
        if vector & 1:
            total ^= matrix[index]
        vector >>= 1
        index += 1
    return total


def _gf2_square(matrix: list[int]) -> list[int]:
    return [_gf2_times(matrix, row) for row in matrix]


def crc32_combine(crc1: int, crc2: int, length2: int) -> int:
    """The CRC-32 of A + B from crc(A), crc(B) and len(B): zlib's crc32_combine (zlib.h), in Python."""
    if length2 <= 0:
        return crc1
    odd = [0xEDB88320] + [1 << bit for bit in range(31)]  # the operator for one zero bit
    even = _gf2_square(odd)  # two zero bits
    odd = _gf2_square(even)  # four zero bits
    while True:
        even = _gf2_square(odd)
        if length2 & 1:
            crc1 = _gf2_times(even, crc1)
        length2 >>= 1
        if not length2:
            break
        odd = _gf2_square(even)
        if length2 & 1:
            crc1 = _gf2_times(odd, crc1)
        length2 >>= 1
        if not length2:
            break
    return crc1 ^ crc2


def _crc_of_repeats(block: bytes, count: int) -> int:
    """CRC-32 of ``block * count`` by doubling, in O(log count) combines."""
    result, result_length = 0, 0
    power, power_length = zlib.crc32(block), len(block)
    while count:
        if count & 1:
            result = crc32_combine(result, power, power_length) if result_length else power
            result_length += power_length
        power = crc32_combine(power, power, power_length)
        power_length *= 2
        count >>= 1
    return result


def gzip_bomb(prefix: bytes, filler: bytes, size: int, suffix: bytes = b"") -> Iterator[bytes]:
    """A gzip file of ``prefix``, ``size`` bytes of ``filler`` (a whole number of MiB) and ``suffix``."""
    if size % _CHUNK or size < 2 * _CHUNK or len(filler) != 1:
        raise ValueError("size must be a whole number of MiB, at least 2, and filler one byte")
    block = filler * _CHUNK
    count = size // _CHUNK
    compressor = zlib.compressobj(9, zlib.DEFLATED, -15)  # raw deflate; the gzip wrapper is written here
    yield _GZIP_HEADER
    yield compressor.compress(prefix + block) + compressor.flush(zlib.Z_SYNC_FLUSH)
    repeated = compressor.compress(block) + compressor.flush(zlib.Z_SYNC_FLUSH)
    for _ in range(count - 1):
        yield repeated
    yield compressor.compress(suffix) + compressor.flush(zlib.Z_FINISH)
    crc = crc32_combine(zlib.crc32(prefix), _crc_of_repeats(block, count), size)
    crc = crc32_combine(crc, zlib.crc32(suffix), len(suffix))
    yield struct.pack("<II", crc, (len(prefix) + size + len(suffix)) & 0xFFFFFFFF)


def write(path: Path, parts: Iterator[bytes]) -> Path:
    with path.open("wb") as file:
        for part in parts:
            file.write(part)
    return path


def repeated_file(path: Path, head: bytes, unit: bytes, size: int, tail: bytes) -> Path:
    """``head``, then ``unit`` repeated to about ``size`` bytes, then ``tail``, written a MiB at a time."""
    block = unit * max(1, _CHUNK // len(unit))
    with path.open("wb") as file:
        file.write(head)
        written = 0
        while written < size:
            file.write(block)
            written += len(block)
        file.write(tail)
    return path
