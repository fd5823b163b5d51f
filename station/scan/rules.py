"""`ScanRules`: the `[scan]` section of station.toml — which codes are commands, badges, orders, waybills.

Every pattern is a regular expression in RE2 syntax (`station.scan.patterns`: matching takes time linear in
the scan, whatever the pattern, so no pattern from a file or the hub can stall the benches; backreferences
and lookaround are refused) that must match the whole code (it is applied with `fullmatch`, so `^`/`$` are
optional). Badge, order and waybill patterns may capture the identifier with a named group
`id`, e.g. `^PT-(?P<id>SO\\d{8}-\\d+)$` for a pick ticket that wraps the order id; without one the whole code
is the identifier. Patterns are compiled when the configuration loads, so a bad one stops the station at start
with the field named, never at the first scan.
"""

import re
from dataclasses import dataclass
from functools import cached_property
from typing import Annotated

from pydantic import AfterValidator, ConfigDict, Field, field_validator

from station.config_section import ConfigSection
from station.scan.patterns import ScanPattern, compile_pattern

CLOSE_BATCH = "CLOSE"  # the BATCH argument that closes the open carrier batch; cannot be a carrier key
_CARRIER_KEY_RE = re.compile(r"[A-Z][A-Z0-9_]{0,15}")


def _check_regex(pattern: str) -> str:
    compile_pattern(pattern)  # raises ValueError naming the pattern and what RE2 cannot do with it
    return pattern


Regex = Annotated[str, AfterValidator(_check_regex)]


@dataclass(frozen=True, slots=True)
class CompiledRules:
    """The patterns of a `ScanRules`, compiled once."""

    badges: tuple[ScanPattern, ...]
    orders: tuple[ScanPattern, ...]
    waybills: tuple[tuple[str, ScanPattern], ...]
    items: tuple[ScanPattern, ...]


class ScanRules(ConfigSection):
    """How scanned codes are classified (the `[scan]` section)."""

    model_config = ConfigDict(frozen=True)

    command_prefix: str = Field(
        "CMD:",
        min_length=1,
        max_length=16,
        pattern=r"^[!-~]+$",
        description=(
            "Prefix of command barcodes, e.g. CMD:COMPLETE, CMD:QTY:3, CMD:HOLD:damaged, CMD:BATCH:SF. "
            "Verbs: COMPLETE, ABORT, HOLD, QTY, REOPEN, REPRINT, OVERRIDE, LOGOUT, BATCH; "
            "the argument follows a colon."
        ),
    )
    badge_patterns: list[Regex] = Field(
        default_factory=lambda: [r"^OP-[A-Z0-9-]{1,32}$", r"^SV-[A-Z0-9-]{1,32}$"],
        description=(
            "Regular expressions for operator badges (packer OP-..., supervisor SV-...). They only classify "
            "the code; the role comes from the operator register."
        ),
    )
    order_patterns: list[Regex] = Field(
        default_factory=lambda: [r"^SO\d{8}-\d{1,10}$"],
        description=(
            "Regular expressions for order codes; a pick ticket carries its order_id (e.g. SO20260205-8821). "
            "A named group `id` picks the order id out of a longer code."
        ),
    )
    waybill_patterns: dict[str, Regex] = Field(
        default_factory=lambda: {
            "SF": r"^SF\d{12,13}$",
            "ZTO": r"^7[3-8]\d{12}$",
            "YTO": r"^YT\d{13}$",
            "JD": r"^JD[0-9A-Z]{2}\d{11}$",
            "EMS": r"^(?:[19]\d{12}|E[A-Z]\d{9}CN)$",
        },
        description=(
            "Waybill number pattern per carrier key (upper-case, also the argument of CMD:BATCH). "
            "Pure-digit waybills (ZTO, domestic EMS) can also be valid GTINs; the scan then carries both "
            "readings and the bench context picks one."
        ),
    )
    item_code_patterns: list[Regex] = Field(
        default_factory=lambda: [r"^[A-Za-z0-9][A-Za-z0-9._/-]{2,47}$"],
        description=(
            "Regular expressions for internal SKU labels, matched case-sensitively as scanned. GTINs and "
            "GS1 codes are recognised without a pattern; digit strings of GTIN length with a wrong check "
            "digit are refused as misreads even when a pattern here would match them."
        ),
    )
    max_length: int = Field(
        512, ge=16, le=4096, description="Longest accepted read, in characters; longer reads are refused."
    )
    fold_case: bool = Field(
        True,
        description=(
            "Upper-case command, badge, order and waybill codes before matching (scanners in the wrong "
            "keyboard mode invert case). Write those patterns in upper case. Item codes are never folded."
        ),
    )
    gs_aliases: list[str] = Field(
        default_factory=lambda: ["<GS>", "^]"],
        description=(
            "Printable stand-ins for the GS1 group separator (ASCII 29) that keyboard-wedge scanners may "
            "type instead of the control character; each is turned back into ASCII 29."
        ),
    )
    detect_swallowed_gs1_fields: bool = Field(
        True,
        description=(
            "Refuse GS1 codes where a batch or serial field seems to contain the next field (a date or GTIN) "
            "because the GS separator was lost, so that a wrong batch, expiry or serial is never recorded."
        ),
    )

    @field_validator("waybill_patterns")
    @classmethod
    def _check_carrier_keys(cls, patterns: dict[str, str]) -> dict[str, str]:
        for carrier in patterns:
            if not _CARRIER_KEY_RE.fullmatch(carrier):
                raise ValueError(f"carrier key {carrier!r} must be 1-16 upper-case letters, digits or _")
            if carrier == CLOSE_BATCH:
                raise ValueError(f"carrier key {CLOSE_BATCH!r} is reserved for CMD:BATCH:{CLOSE_BATCH}")
        return patterns

    @field_validator("gs_aliases")
    @classmethod
    def _check_gs_aliases(cls, aliases: list[str]) -> list[str]:
        for alias in aliases:
            if not alias or not alias.isprintable() or alias.isspace():
                raise ValueError(f"GS alias {alias!r} must be non-empty printable text")
        return aliases

    @cached_property
    def compiled(self) -> CompiledRules:
        """The patterns compiled once (the model is frozen, so they cannot go stale)."""
        return CompiledRules(
            badges=tuple(compile_pattern(pattern) for pattern in self.badge_patterns),
            orders=tuple(compile_pattern(pattern) for pattern in self.order_patterns),
            waybills=tuple((carrier, compile_pattern(p)) for carrier, p in self.waybill_patterns.items()),
            items=tuple(compile_pattern(pattern) for pattern in self.item_code_patterns),
        )
