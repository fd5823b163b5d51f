"""Command barcodes: `<prefix><VERB>[:<argument>]`, e.g. `CMD:COMPLETE`, `CMD:QTY:3`, `CMD:BATCH:SF`.

The verbs are fixed here because each one is a workflow action; only the prefix is configurable. The verb is
case-insensitive when `ScanRules.fold_case` is on (the default). Arguments:

- QTY: required, 1 to 999 in ASCII digits, returned in canonical form ("007" -> "7").
- BATCH: required, a carrier key of `ScanRules.waybill_patterns` or CLOSE, returned upper-case.
- HOLD, ABORT, REOPEN, REPRINT, OVERRIDE: an optional reason, kept as scanned (it is shown to people, often in
  Chinese). OVERRIDE completes an order without its packing photo when a supervisor authorises it.
- COMPLETE, LOGOUT: none; a stray argument means the wrong sheet was printed, so it is refused.
"""

import re

from station.scan.model import Command, Problem
from station.scan.rules import CLOSE_BATCH, ScanRules

_ARG_SEPARATOR = ":"
_QTY_RE = re.compile(r"[0-9]{1,3}")
_NO_ARGUMENT = frozenset({"COMPLETE", "LOGOUT"})
_OPTIONAL_REASON = frozenset({"HOLD", "ABORT", "REOPEN", "REPRINT", "OVERRIDE"})
_QTY = "QTY"
_BATCH = "BATCH"
VERBS = _NO_ARGUMENT | _OPTIONAL_REASON | {_QTY, _BATCH}


def has_command_prefix(text: str, rules: ScanRules) -> bool:
    """Whether the text starts with the command prefix (case-insensitively when folding case)."""
    head = text[: len(rules.command_prefix)]
    if rules.fold_case:
        return head.upper() == rules.command_prefix.upper()
    return head == rules.command_prefix


def parse_command(text: str, rules: ScanRules) -> Command | Problem:
    """Read a text that starts with the command prefix as a `Command`, or say what is wrong with it."""
    verb, separator, argument = text[len(rules.command_prefix) :].partition(_ARG_SEPARATOR)
    verb = verb.strip()
    if rules.fold_case:
        verb = verb.upper()
    arg = argument.strip() if separator else ""
    if verb not in VERBS:
        return Problem.UNKNOWN_COMMAND
    if verb == _QTY:
        if not _QTY_RE.fullmatch(arg) or int(arg) == 0:
            return Problem.BAD_COMMAND_ARGUMENT
        return Command(verb, str(int(arg)))
    if verb == _BATCH:
        carrier = arg.upper() if rules.fold_case else arg
        if carrier != CLOSE_BATCH and carrier not in rules.waybill_patterns:
            return Problem.BAD_COMMAND_ARGUMENT
        return Command(verb, carrier)
    if verb in _NO_ARGUMENT:
        return Command(verb, None) if not arg else Problem.BAD_COMMAND_ARGUMENT
    return Command(verb, arg or None)
