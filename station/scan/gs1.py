"""GS1 element strings on item labels: parse with biip, keep AI 01/10/17/21, and catch lost separators.

Accepted forms: the element string as the scanner sends it (variable-length fields ended by GS, ASCII 29; a
leading GS standing for FNC1 in first position is ignored), and the human-readable form printed under the
barcode, `(01)06901234567892(17)261200(10)L2401`. Only AI 01 makes the code an item; valid GS1 without it (an
SSCC carton label, say) is refused as `gs1_without_gtin`.

Lost separators. A variable-length field (AI 10 batch, AI 21 serial, ...) has no fixed end: when the GS after
it is lost — a keyboard-wedge scanner that cannot type ASCII 29, a label printed without FNC1 — the field
swallows the fields that follow, and a naive parser records a wrong batch and no expiry or serial. Two checks
catch it and give `gs1_separator_missing`:

1. Structural (always on, a certainty): a variable-length field ran to its maximum length and more element
   strings followed without a GS. The GS1 General Specifications require the separator there, so the data is
   wrong whatever it means.
2. Content (`ScanRules.detect_swallowed_gs1_fields`, a heuristic): a variable-length field's text, from some
   position after its first character to the next GS or the end, reads as element strings that begin with a
   self-checking fixed-length element — AI 01 with a valid GTIN check digit, or AI 11/15/17 (production,
   best-before, expiry date) with a valid YYMMDD date — and that AI does not appear elsewhere in the message.
   Example: `01...` `10L2401` `17261231` `21SN88` sent without separators gives the batch
   `L24011726123121SN88`, whose tail `17261231` `21SN88` parses: flagged.

Limits, stated plainly:
- A batch swallowing a serial (`10L2401` + `21SN88` -> batch `L240121SN88`) cannot be told from a batch that
  really contains "21": AI 21 and AI 10 carry free text and check nothing. Unless the sum exceeds 20
  characters (then it is refused, by check 1 or as `gs1_invalid`) such a scan passes with a wrong batch and
  no serial. The workflow can catch
  it for lines it knows are serialised: a GS1 scan without a serial on such a line is suspect.
- False alarms: a batch or serial whose tail genuinely reads as "17"/"15"/"11" + six digits forming a valid
  date (or "01" + a valid GTIN), possibly followed by more valid element strings, with that AI absent from the
  rest of the message, is refused. Measured on random
  all-digit batches: none up to 9 digits, 0.1-0.3 % at 10-20 digits, about nil for alphanumeric ones. A site
  whose batch numbers trip it can turn check 2 off.
- The human-readable form delimits every field explicitly, so neither check applies to it.
"""

import re
from dataclasses import dataclass

from biip import ParseError
from biip.gs1_element_strings import GS1ElementString
from biip.gs1_messages import GS1Message

from station.scan.decode import GS
from station.scan.gtin import is_valid_gtin
from station.scan.model import ItemCode, Problem

_GTIN_AI = "01"
_BATCH_AI = "10"
_EXPIRY_AI = "17"
_SERIAL_AI = "21"
# Fixed-length AIs whose data checks itself (check digit, calendar date): a match inside free text is unlikely
# to be chance. Other date AIs (12, 13, 16) are rare on consumer items and would only add false alarms.
_SELF_CHECKING_AIS = frozenset({_GTIN_AI, "11", "15", _EXPIRY_AI})
_HRI_START_RE = re.compile(r"\(\d{2,4}\)")
_GTIN_ELEMENT_START_RE = re.compile(r"01\d{14}")


@dataclass(frozen=True, slots=True)
class Gs1Outcome:
    """An item read from GS1 data, or the reason there is none."""

    item: ItemCode | None
    problem: Problem | None = None


@dataclass(frozen=True, slots=True)
class _Element:
    element: GS1ElementString
    start: int  # offset of the AI in the data
    run_end: int  # offset of the next GS after the element's value, or the end of the data
    separated: bool  # a GS directly follows the value


class _WalkFailed(Exception):
    """Element strings stopped parsing part-way; `elements` holds those read before the failure."""

    def __init__(self, elements: list[_Element]) -> None:
        super().__init__("GS1 element strings did not parse")
        self.elements = elements


def looks_like_hri(text: str) -> bool:
    """Whether the text starts like the parenthesised human-readable form, e.g. `(01)`."""
    return _HRI_START_RE.match(text) is not None


def starts_with_gtin_element(text: str) -> bool:
    """Whether the text starts with AI 01 and 14 digits: GS1 data even without an AIM identifier."""
    return _GTIN_ELEMENT_START_RE.match(text) is not None


def _walk(data: str) -> list[_Element]:
    """Read element strings one by one, recording where each starts and whether a GS ended it."""
    elements: list[_Element] = []
    position = 0
    while position < len(data) and data[position] == GS:
        position += 1
    while position < len(data):
        try:
            element = GS1ElementString.extract(data[position:])
        except ParseError as err:
            raise _WalkFailed(elements) from err
        value_end = position + len(element)
        next_gs = data.find(GS, value_end)
        run_end = len(data) if next_gs < 0 else next_gs
        separated = value_end < len(data) and data[value_end] == GS
        elements.append(_Element(element, position, run_end, separated))
        position = value_end
        while position < len(data) and data[position] == GS:
            position += 1
    return elements


class _CompletionMemo:
    """Whether `text[offset:]` parses completely as element strings, remembered per offset.

    Greedy parsing from one offset always continues at the same next offset, so each offset is parsed at most
    once; without this, a crafted 512-character scan could cost a quadratic number of parses.
    """

    def __init__(self, text: str) -> None:
        self._text = text
        self._known: dict[int, bool] = {len(text): True}

    def parses_from(self, offset: int) -> bool:
        chain: list[int] = []
        position = offset
        while position not in self._known:
            chain.append(position)
            try:
                element = GS1ElementString.extract(self._text[position:])
            except ParseError:
                self._known[position] = False
                break
            position += len(element)
        result = self._known[position]
        for visited in chain:
            self._known[visited] = result
        return result


def _self_checking_element_at(text: str) -> GS1ElementString | None:
    """The self-checking fixed-length element the text starts with, if any."""
    if text[:2] not in _SELF_CHECKING_AIS:
        return None
    try:
        element = GS1ElementString.extract(text)
    except ParseError:  # e.g. a month 13: not a date, so not a swallowed date field
        return None
    if element.ai.ai == _GTIN_AI and not is_valid_gtin(element.value):
        return None
    return element


def _swallowed_field(data: str, elements: list[_Element]) -> bool:
    """Check 2 of the module docstring: does a variable-length field's run hide a self-checking element?"""
    for candidate in elements:
        if not candidate.element.ai.separator_required:
            continue
        value_start = candidate.start + len(candidate.element.ai)
        run = data[value_start : candidate.run_end]
        # AIs of the message that were not read from inside this run: a swallowed AI cannot repeat one.
        elsewhere = {other.element.ai.ai for other in elements if not value_start <= other.start < candidate.run_end}
        completes = _CompletionMemo(run)
        # Start at 1: the field keeps at least one character of its own.
        for offset in range(1, len(run)):
            hidden = _self_checking_element_at(run[offset:])
            if hidden is None or hidden.ai.ai in elsewhere:
                continue
            if completes.parses_from(offset + len(hidden)):
                return True
    return False


def _to_item(code: str, elements: list[GS1ElementString]) -> Gs1Outcome:
    values: dict[str, GS1ElementString] = {}
    for element in elements:
        seen = values.setdefault(element.ai.ai, element)
        if seen.value != element.value:  # one AI with two values: the label contradicts itself
            return Gs1Outcome(None, Problem.GS1_INVALID)
    gtin = values.get(_GTIN_AI)
    if gtin is None:
        return Gs1Outcome(None, Problem.GS1_WITHOUT_GTIN)
    if not is_valid_gtin(gtin.value):
        return Gs1Outcome(None, Problem.BAD_CHECK_DIGIT)
    batch = values.get(_BATCH_AI)
    expiry = values.get(_EXPIRY_AI)
    serial = values.get(_SERIAL_AI)
    return Gs1Outcome(
        ItemCode(
            code=code,
            gtin14=gtin.value,
            batch=batch.value if batch else None,
            expiry=expiry.date if expiry else None,
            serial=serial.value if serial else None,
            is_gs1=True,
        )
    )


def _parse_hri(text: str) -> Gs1Outcome:
    try:
        message = GS1Message.parse_hri(text)
    except ParseError:
        return Gs1Outcome(None, Problem.GS1_INVALID)
    # biip skips text it cannot place between parentheses; anything it skipped makes the code invalid.
    if message.as_hri() != "".join(text.split()):
        return Gs1Outcome(None, Problem.GS1_INVALID)
    return _to_item(text, list(message.element_strings))


def parse_gs1(text: str, *, detect_swallowed: bool = True) -> Gs1Outcome:
    """Read GS1 data (element string with GS separators, or the parenthesised form) as an item.

    `text` is the scan with the AIM identifier removed and GS aliases already turned into ASCII 29; it becomes
    `ItemCode.code`. Never raises for bad data: every failure is a `Problem`.
    """
    if looks_like_hri(text):
        return _parse_hri(text)
    try:
        elements = _walk(text)
    except _WalkFailed as failure:
        if detect_swallowed and _swallowed_field(text, failure.elements):
            return Gs1Outcome(None, Problem.GS1_SEPARATOR_MISSING)
        return Gs1Outcome(None, Problem.GS1_INVALID)
    if not elements:
        return Gs1Outcome(None, Problem.GS1_INVALID)
    # Check 1: a variable-length field cut at its maximum length with more data after it and no GS.
    if any(item.element.ai.separator_required and not item.separated for item in elements[:-1]):
        return Gs1Outcome(None, Problem.GS1_SEPARATOR_MISSING)
    if detect_swallowed and _swallowed_field(text, elements):
        return Gs1Outcome(None, Problem.GS1_SEPARATOR_MISSING)
    return _to_item(text, [item.element for item in elements])
