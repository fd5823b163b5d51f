"""Consistent Overhead Byte Stuffing: removes every 0x00 from a frame so that 0x00 can delimit frames on the wire.

Each encoded block starts with a code byte `n` (1..255): `n - 1` data bytes follow, then an implied 0x00 unless
`n == 255` or the block ends the frame. An empty input encodes to `01`. Overhead is at most one byte per 254.
"""

from .errors import FrameError


class CobsError(FrameError):
    """The bytes are not a valid COBS encoding (a 0x00 inside, or a block running past the end)."""


def encode(data: bytes) -> bytes:
    """COBS-encode `data`; the result contains no 0x00 (the caller appends the delimiter)."""
    out = bytearray()
    block = bytearray()
    for byte in data:
        if byte == 0:
            out.append(len(block) + 1)
            out.extend(block)
            block = bytearray()
        else:
            block.append(byte)
            if len(block) == 254:
                out.append(255)
                out.extend(block)
                block = bytearray()
    out.append(len(block) + 1)
    out.extend(block)
    return bytes(out)


def decode(data: bytes) -> bytes:
    """Decode one COBS block sequence (without its 0x00 delimiter). Raises `CobsError` if it is malformed."""
    out = bytearray()
    i = 0
    n = len(data)
    if n == 0:
        raise CobsError("empty COBS frame")
    while i < n:
        code = data[i]
        if code == 0:
            raise CobsError(f"0x00 inside a COBS frame at offset {i}")
        end = i + code
        if end > n:
            raise CobsError(f"COBS block at offset {i} runs past the end")
        for j in range(i + 1, end):
            byte = data[j]
            if byte == 0:
                raise CobsError(f"0x00 inside a COBS frame at offset {j}")
            out.append(byte)
        i = end
        # A block shorter than 255 stands for "data then a zero", except at the very end of the frame.
        if code != 255 and i < n:
            out.append(0)
    return bytes(out)
