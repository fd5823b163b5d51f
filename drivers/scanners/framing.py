"""Splits a byte stream from a serial scanner (or the simulator's FIFO) into codes at CR, LF or CRLF.

Pure: bytes in, frames out. The caller owns the clock that drops a partial frame left without terminator.
"""

import logging
from typing import Literal

logger = logging.getLogger(__name__)

#: How frames end: ``any`` accepts CR, LF and CRLF (and skips the empty frame between CR and LF);
#: the others accept only their own terminator and keep any other CR/LF byte as data.
EndOfLine = Literal["any", "cr", "lf", "crlf"]

_TERMINATORS: dict[str, bytes] = {"cr": b"\r", "lf": b"\n", "crlf": b"\r\n"}


class LineFramer:
    """Accumulate bytes and return each complete, non-empty frame without its terminator."""

    def __init__(self, eol: EndOfLine = "any", max_frame_bytes: int = 4096, device: str = "serial") -> None:
        """``max_frame_bytes`` bounds a frame that never ends (noise, wrong baud): it is dropped whole."""
        self._eol = eol
        self._max_frame_bytes = max_frame_bytes
        self._device = device
        self._buffer = bytearray()
        #: Frames thrown away for being longer than ``max_frame_bytes``.
        self.overflows = 0

    @property
    def pending(self) -> bool:
        """True when bytes of an unfinished frame are held."""
        return bool(self._buffer)

    def reset(self) -> bytes:
        """Discard the unfinished frame and return it."""
        partial = bytes(self._buffer)
        self._buffer.clear()
        return partial

    def feed(self, data: bytes) -> list[bytes]:
        """Add ``data``; return the frames it completed, in order."""
        self._buffer.extend(data)
        if self._eol == "any":
            # CR and LF both end a frame; CRLF then leaves an empty frame, which is skipped like a blank line.
            parts = self._buffer.replace(b"\r", b"\n").split(b"\n")
        else:
            parts = self._buffer.split(_TERMINATORS[self._eol])
        rest = parts.pop()
        self._buffer = bytearray(rest)
        frames = [bytes(part) for part in parts if part]
        if len(self._buffer) > self._max_frame_bytes:
            self.overflows += 1
            logger.warning(
                "%s: %d bytes without end of line; dropped (first bytes %r)",
                self._device,
                len(self._buffer),
                bytes(self._buffer[:32]),
            )
            self._buffer.clear()
        return frames
