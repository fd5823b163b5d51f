"""CRC-16/CCITT-FALSE (poly 0x1021, init 0xFFFF, no reflection, no final xor): check value 0x29B1 for b"123456789".

Bitwise rather than table-driven: frames are at most a few dozen bytes, and a 256-entry table would cost an
RP2040 a kilobyte of RAM for no gain a packer could notice.
"""

POLY = 0x1021
INIT = 0xFFFF


def crc16(data: bytes, crc: int = INIT) -> int:
    """Return the CRC-16/CCITT-FALSE of `data`, continuing from `crc` (pass the previous result to chain)."""
    for byte in data:
        crc ^= byte << 8
        for _ in range(8):
            crc = (crc << 1 ^ POLY) & 65535 if crc & 32768 else crc << 1 & 65535
    return crc
