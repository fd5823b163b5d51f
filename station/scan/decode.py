"""Turn a raw scanner read into clean text, or say why it cannot be used.

Rules, in the order they are applied (the first that fails decides the problem code):

1. `bytes` (or `bytearray`/`memoryview`) must be strict UTF-8; a `str` must not carry lone surrogates
   (what a lossy `surrogateescape` decode upstream leaves behind) -> `invalid_utf8`. Anything else ->
   `unsupported_input`. Reads far beyond the limit are refused before decoding: 10 KB of junk costs nothing.
2. Trailing CR and LF are removed: they are the scanner's line terminator, not data.
3. More than `max_length` characters -> `too_long`.
4. Any non-printable character except GS (0x1D, the FNC1 separator of GS1 data) -> `control_characters`. This
   covers C0/C1 controls, DEL, format characters such as zero-width spaces and the BOM, line/paragraph
   separators, private-use and unassigned code points. A tab suffix configured on a keyboard-wedge scanner is
   therefore refused, on purpose: it means the scanner is misconfigured.
5. Leading and trailing spaces are removed (they are never part of a code we accept).

No case folding and no Unicode normalisation happen here: the text stays as scanned, so item codes compare
exactly against order lines. Case folding is the classifier's business and applies only to badge, order,
waybill and command codes.
"""

import unicodedata
from dataclasses import dataclass

from station.scan.model import Problem

GS = "\x1d"
_LINE_TERMINATORS = "\r\n"
# Unicode categories that cannot be shown as text: controls, format characters, surrogates, private use,
# unassigned, and the line/paragraph separators.
_UNPRINTABLE_CATEGORIES = frozenset({"Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp"})
# UTF-8 needs at most 4 bytes per character: a read longer than this can never fit the limit.
_MAX_UTF8_BYTES_PER_CHAR = 4
# Room for a CR/LF terminator on top of the limit.
_TERMINATOR_ALLOWANCE = 2


@dataclass(frozen=True, slots=True)
class Decoded:
    """The outcome of decoding: `text` is usable only when `problem` is None."""

    text: str
    problem: Problem | None = None


def _is_printable(char: str) -> bool:
    return char == GS or unicodedata.category(char) not in _UNPRINTABLE_CATEGORIES


def _escape(char: str) -> str:
    code = ord(char)
    if code <= 0xFF:
        return f"\\x{code:02x}"
    if code <= 0xFFFF:
        return f"\\u{code:04x}"
    return f"\\U{code:08x}"


def escape_unprintable(text: str) -> str:
    """Show every refused character as a `\\xNN`/`\\uNNNN`/`\\UNNNNNNNN` escape, for logs and screens."""
    return "".join(char if _is_printable(char) else _escape(char) for char in text)


def decode(raw: object, max_length: int) -> Decoded:
    """Decode and sanity-check one raw read (see the module docstring for the rules)."""
    if isinstance(raw, bytes | bytearray | memoryview):
        data = bytes(raw)
        if len(data) > max_length * _MAX_UTF8_BYTES_PER_CHAR + _TERMINATOR_ALLOWANCE:
            return Decoded("", Problem.TOO_LONG)
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError:
            return Decoded("", Problem.INVALID_UTF8)
    elif isinstance(raw, str):
        text = raw
        if len(text) > max_length + _TERMINATOR_ALLOWANCE:
            return Decoded("", Problem.TOO_LONG)
        if any("\ud800" <= char <= "\udfff" for char in text):
            return Decoded("", Problem.INVALID_UTF8)
    else:
        return Decoded("", Problem.UNSUPPORTED_INPUT)

    text = text.rstrip(_LINE_TERMINATORS)
    if len(text) > max_length:
        return Decoded("", Problem.TOO_LONG)
    # str.isprintable() refuses a superset of what we refuse (it also refuses GS and non-ASCII spaces): when
    # it says yes, every character passes; only the rest is checked one character at a time.
    if not text.isprintable() and not all(_is_printable(char) for char in text):
        return Decoded(escape_unprintable(text), Problem.CONTROL_CHARACTERS)
    return Decoded(text.strip(" "))
