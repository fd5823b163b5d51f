"""`interpret`: classify one raw scanner read. Pure (no I/O, no database, no device) and never raises.

The one outside input is today's date: biip puts the two-digit year of a GS1 date into its century with GS1's
sliding window (49 years back, 50 ahead).

Steps:

1. Decode and sanity-check (`decode.py`): UTF-8, CR/LF terminator, length, unprintable characters.
2. Strip the AIM identifier (`aim.py`) and turn configured GS aliases (default `<GS>` and `^]`, which
   keyboard-wedge scanners may type for ASCII 29) into ASCII 29. The aliases are replaced everywhere, not only
   in GS1 data: no command, badge, order, waybill or SKU code legitimately contains them. (GS1 allows "<" and
   ">" in batches, so a batch containing the text "<GS>" would be split; `^` and `]` are not GS1 characters,
   which makes `^]` the safe alias.)
3. GS1 data is read as GS1 and nothing else: an AIM identifier of a GS1 symbology (`]C1`, `]e0`, `]d2`, `]Q3`,
   `]J1`), a GS anywhere in the text, or the parenthesised form `(01)...`. A GS is meaningless outside GS1, so
   such a text that is not valid GS1 is refused as GS1.
4. Command codes (prefix `CMD:`), exclusive like GS1.
5. Every other reading the text supports, in the design's order: badge, order, waybills (one per matching
   carrier), then the item — a GTIN with a valid check digit, an unprefixed GS1 string starting with AI 01,
   or, only when neither applies, an internal SKU pattern. A digit string of GTIN length with a wrong check
   digit, and unprefixed GS1 that fails to parse, are never taken as internal SKU codes: that is how misreads
   would get in. An EAN/UPC symbol (`]E...`) carrying a valid GTIN is an item and nothing else.
6. Ranking: a badge comes first. Then, with an order open at the bench (`open_order=True`), a GTIN or GS1
   item outranks order and waybill readings (the packer is scanning items; a pure-digit ZTO/EMS waybill that
   happens to be a valid GTIN is far more likely a product); with no order open, order and waybill readings
   come first. An internal-pattern item always comes last: the pattern is a catch-all and must not shadow a
   real order or waybill code. The first reading is returned; the others are its `alternatives`.
7. Nothing matched: UNKNOWN with the item-level problem if there was one (`bad_check_digit`, `gs1_...`), else
   `unknown_code`.

Case: badge, order, waybill and command codes are upper-cased before matching when `ScanRules.fold_case` is
on, and the identifiers they yield are upper-case. Item codes keep their case: `ItemCode.code` is compared
with order-line barcodes exactly. `Reading.text` is always the text as scanned.
"""

import dataclasses
import logging

from station.scan.aim import is_gs1_symbology, split_symbology
from station.scan.commands import has_command_prefix, parse_command
from station.scan.decode import GS, decode
from station.scan.gs1 import looks_like_hri, parse_gs1, starts_with_gtin_element
from station.scan.gtin import looks_like_gtin, to_gtin14
from station.scan.model import CodeKind, ItemCode, Problem, Reading, Waybill
from station.scan.patterns import ScanPattern
from station.scan.rules import ScanRules

logger = logging.getLogger(__name__)

_ID_GROUP = "id"
_EAN_UPC_PREFIX = "]E"
_LOGGED_INPUT_CHARS = 80


def interpret(raw: bytes | str, rules: ScanRules, *, open_order: bool = False) -> Reading:
    """Classify one raw scanner read (see the module docstring for the rules).

    `open_order` tells whether the bench is in the middle of packing an order, which makes item codes the
    likely reading of an ambiguous pure-digit code. Bad input never raises: it becomes an UNKNOWN reading
    whose `problem` says why.
    """
    try:
        return _interpret(raw, rules, open_order=open_order)
    except Exception:
        # A scan must never take the bench down. A failure here is a bug: log it loudly, refuse the scan.
        logger.exception("scan interpreter failed on %.*r", _LOGGED_INPUT_CHARS, raw)
        return Reading(CodeKind.UNKNOWN, "", None, problem=Problem.INTERNAL_ERROR)


def _unknown(text: str, symbology: str | None, problem: Problem) -> Reading:
    return Reading(CodeKind.UNKNOWN, text, symbology, problem=problem)


def _interpret(raw: bytes | str, rules: ScanRules, *, open_order: bool) -> Reading:
    decoded = decode(raw, rules.max_length)
    if decoded.problem is not None:
        return _unknown(decoded.text, None, decoded.problem)
    symbology, text = split_symbology(decoded.text)
    text = text.strip(" ")
    for alias in rules.gs_aliases:
        text = text.replace(alias, GS)
    if not text.strip(GS + " "):
        return _unknown("", symbology, Problem.EMPTY)

    if is_gs1_symbology(symbology) or GS in text or looks_like_hri(text):
        outcome = parse_gs1(text, detect_swallowed=rules.detect_swallowed_gs1_fields)
        if outcome.item is None:
            return _unknown(text, symbology, outcome.problem or Problem.GS1_INVALID)
        return Reading(CodeKind.ITEM, text, symbology, item=outcome.item)

    if has_command_prefix(text, rules):
        command = parse_command(text, rules)
        if isinstance(command, Problem):
            return _unknown(text, symbology, command)
        return Reading(CodeKind.COMMAND, text, symbology, command=command)

    gtin14 = to_gtin14(text)
    if symbology is not None and symbology.startswith(_EAN_UPC_PREFIX) and gtin14 is not None:
        return Reading(CodeKind.ITEM, text, symbology, item=ItemCode(text, gtin14))

    return _classify(text, symbology, rules, open_order=open_order)


def _identifier(patterns: tuple[ScanPattern, ...], code: str) -> str | None:
    """The identifier of the first pattern matching the code: its `id` group if it has one, else the code."""
    for pattern in patterns:
        match = pattern.fullmatch(code)
        if match is not None:
            if _ID_GROUP in pattern.groupindex and match.group(_ID_GROUP):
                return match.group(_ID_GROUP)
            return code
    return None


def _item_reading(text: str, rules: ScanRules) -> tuple[ItemCode | None, bool, Problem | None]:
    """The item reading of a text: (item, whether it is a GTIN/GS1 item, problem when it is neither)."""
    if looks_like_gtin(text):
        gtin14 = to_gtin14(text)
        if gtin14 is not None:
            return ItemCode(text, gtin14), True, None
        return None, False, Problem.BAD_CHECK_DIGIT
    if starts_with_gtin_element(text):
        outcome = parse_gs1(text, detect_swallowed=rules.detect_swallowed_gs1_fields)
        return outcome.item, outcome.item is not None, outcome.problem
    if any(pattern.fullmatch(text) for pattern in rules.compiled.items):
        return ItemCode(text, None), False, None
    return None, False, None


def _classify(text: str, symbology: str | None, rules: ScanRules, *, open_order: bool) -> Reading:
    compiled = rules.compiled
    code = text.upper() if rules.fold_case else text

    first: list[Reading] = []
    badge = _identifier(compiled.badges, code)
    if badge is not None:
        first.append(Reading(CodeKind.BADGE, text, symbology, badge=badge))
    contested: list[Reading] = []
    order_id = _identifier(compiled.orders, code)
    if order_id is not None:
        contested.append(Reading(CodeKind.ORDER, text, symbology, order_id=order_id))
    for carrier, pattern in compiled.waybills:
        number = _identifier((pattern,), code)
        if number is not None:
            contested.append(Reading(CodeKind.WAYBILL, text, symbology, waybill=Waybill(carrier, number)))

    item, strong, problem = _item_reading(text, rules)
    ranked = [*first, *contested]
    if item is not None:
        # With an order open a GTIN/GS1 item goes before order and waybill readings; an internal-pattern item
        # (a catch-all) always goes last.
        position = len(first) if strong and open_order else len(ranked)
        ranked.insert(position, Reading(CodeKind.ITEM, text, symbology, item=item))

    if not ranked:
        return _unknown(text, symbology, problem or Problem.UNKNOWN_CODE)
    if len(ranked) == 1:
        return ranked[0]
    return dataclasses.replace(ranked[0], alternatives=tuple(ranked[1:]))
