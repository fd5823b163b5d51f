"""What the scan interpreter returns: the kinds of code, their payloads, and the problem codes.

These are plain frozen value objects with no behaviour, so the workflow, the store and the tests can build and
compare them freely. The invariant every `Reading` keeps: exactly the payload field that matches `kind` is set
(`command` for COMMAND, `badge` for BADGE, ...), and an UNKNOWN reading sets none of them and always carries a
`problem`.
"""

import datetime
import enum
from dataclasses import dataclass


class CodeKind(enum.StrEnum):
    """What a scanned code was taken to be; the values are part of the HTTP contract (`kind` of a scan)."""

    COMMAND = "command"
    BADGE = "badge"
    ORDER = "order"
    WAYBILL = "waybill"
    ITEM = "item"
    UNKNOWN = "unknown"


class Problem(enum.StrEnum):
    """Machine-readable reasons found in `Reading.problem`.

    Members are `str`, so the workflow may store or compare them as plain strings.
    """

    UNSUPPORTED_INPUT = "unsupported_input"
    """The raw read was neither bytes nor str (a caller bug, refused rather than raised)."""
    INVALID_UTF8 = "invalid_utf8"
    """The bytes are not UTF-8, or a str carries lone surrogates left over from a lossy decode."""
    TOO_LONG = "too_long"
    """Longer than `ScanRules.max_length` characters."""
    CONTROL_CHARACTERS = "control_characters"
    """Non-printable characters other than GS and a trailing CR/LF."""
    EMPTY = "empty"
    """Nothing left after removing the line terminator, surrounding spaces and the AIM identifier."""
    UNKNOWN_COMMAND = "unknown_command"
    """The command prefix matched but the verb is not one the station knows."""
    BAD_COMMAND_ARGUMENT = "bad_command_argument"
    """A known verb with a missing, superfluous or invalid argument."""
    BAD_CHECK_DIGIT = "bad_check_digit"
    """A GTIN (plain digits or GS1 AI 01) whose check digit is wrong: a misread or a misprint."""
    GS1_INVALID = "gs1_invalid"
    """GS1 data that does not parse as element strings (unknown AI, bad format, impossible date...)."""
    GS1_SEPARATOR_MISSING = "gs1_separator_missing"
    """A variable-length GS1 field ran into the next field because the GS separator was missing."""
    GS1_WITHOUT_GTIN = "gs1_without_gtin"
    """Valid GS1 data with no AI 01 (e.g. an SSCC pallet label): not an item."""
    UNKNOWN_CODE = "unknown_code"
    """Printable text that matches no command, badge, order, waybill or item rule."""
    INTERNAL_ERROR = "internal_error"
    """The interpreter itself failed; it was logged. Should never happen."""


@dataclass(frozen=True, slots=True)
class Command:
    """A command barcode, e.g. `CMD:QTY:3`."""

    verb: str
    """Upper-case verb: COMPLETE, ABORT, HOLD, QTY, REOPEN, REPRINT, OVERRIDE, LOGOUT or BATCH."""
    arg: str | None
    """QTY: the count as a canonical decimal string ("3"); HOLD/ABORT/REOPEN: the reason as scanned, or None;
    BATCH: an upper-case carrier key or "CLOSE"; None for verbs without an argument."""


@dataclass(frozen=True, slots=True)
class ItemCode:
    """An item label: a GTIN, a GS1 element string or an internal SKU code."""

    code: str
    """The text as scanned, AIM identifier removed (matched against the barcodes listed on order lines)."""
    gtin14: str | None
    """The 14-digit GTIN when the code is a valid GTIN-8/12/13/14 or carries GS1 AI 01; else None."""
    batch: str | None = None
    """GS1 AI 10."""
    expiry: datetime.date | None = None
    """GS1 AI 17 (YYMMDD; DD=00 means the last day of the month)."""
    serial: str | None = None
    """GS1 AI 21: a serialised unit, which the workflow refuses to count twice."""
    is_gs1: bool = False
    """True when the code was read as GS1 element strings."""


@dataclass(frozen=True, slots=True)
class Waybill:
    """A carrier's waybill number."""

    carrier: str
    """The carrier key from `ScanRules.waybill_patterns`, e.g. "SF"."""
    number: str
    """The waybill number, upper-cased when `ScanRules.fold_case` is on."""


@dataclass(frozen=True, slots=True)
class Reading:
    """One interpretation of one scanner read."""

    kind: CodeKind
    text: str
    """Decoded text with the AIM identifier removed and GS aliases turned into "\\x1d". It is "" when the read
    could not be decoded or was too long, and shows refused characters as `\\xNN` escapes when the problem is
    `control_characters`, so it is always safe to log and display."""
    symbology: str | None
    """The AIM symbology identifier as read, e.g. "]C1", "]E0", "]d2", "]Q3"; None if absent."""
    command: Command | None = None
    badge: str | None = None
    order_id: str | None = None
    waybill: Waybill | None = None
    item: ItemCode | None = None
    alternatives: tuple["Reading", ...] = ()
    """Other plausible readings of the same text, most likely first; they have no alternatives themselves."""
    problem: str | None = None
    """A `Problem` code; always set when kind is UNKNOWN."""
