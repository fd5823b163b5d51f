"""AIM symbology identifiers (ISO/IEC 15424): the `]Cm` prefix a scanner may put before the data.

An identifier is `]`, a symbology code letter and one modifier character. We keep it only to know two things:
that it must not be part of the code, and whether the symbol carries GS1 data (FNC1 in first position), which
decides how the rest is parsed. System-expansion identifiers (`]Y` with a longer modifier) are not used by
scanners at packing benches and are read with a one-character modifier like the others.
"""

import re

# `]` + code letter + one modifier character.
_AIM_RE = re.compile(r"\][A-Za-z][0-9A-Za-z]")

# Symbologies whose data is a GS1 element string (GS1 General Specifications, figure 5.1.2-2):
# GS1-128, GS1 DataBar, GS1 DataMatrix, GS1 QR Code, GS1 DotCode.
GS1_SYMBOLOGIES = frozenset({"]C1", "]e0", "]d2", "]Q3", "]J1"})


def split_symbology(text: str) -> tuple[str | None, str]:
    """Split a read into its AIM identifier (None if there is none) and the data after it."""
    match = _AIM_RE.match(text)
    if match is None:
        return None, text
    return match.group(), text[match.end() :]


def is_gs1_symbology(symbology: str | None) -> bool:
    """Whether the identifier says the data is a GS1 element string."""
    return symbology in GS1_SYMBOLOGIES
