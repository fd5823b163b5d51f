"""Text that people read — names, addresses, product names — must show what it says.

A NUL cuts a name short in C-based tools and label firmware; a bidirectional override (U+202E) makes
`…txt.exe` read as `…exe.txt` and can reorder a name or an address on a screen or a label. Both are refused
wherever such text enters the station (the order document, operator registration).
"""

import unicodedata

# Embeddings, overrides and isolates: they reorder what follows. (The plain marks LRM/RLM only set direction.)
_BIDI_CONTROLS = frozenset("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")


def text_problem(value: str, *, multiline: bool = False) -> str | None:
    """Why `value` cannot be shown as it is, or None. `multiline` text may hold line breaks and tabs."""
    for position, char in enumerate(value):
        if char in _BIDI_CONTROLS:
            return f"U+{ord(char):04X} (a bidirectional control) at position {position}"
        if unicodedata.category(char) == "Cc" and not (multiline and char in "\n\r\t"):
            return f"U+{ord(char):04X} (a control character) at position {position}"
    return None


def checked_text(value: str, *, multiline: bool = False) -> str:
    """`value` if it can be shown as it is; else ValueError naming the character (for pydantic validators)."""
    problem = text_problem(value, multiline=multiline)
    if problem is not None:
        raise ValueError(f"must be plain text: {problem}")
    return value
