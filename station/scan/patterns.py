"""Scan patterns compiled with RE2: matching time linear in the scan's length, whatever the pattern.

Patterns come from station.toml and from the hub (`config.set`), and every scan of every bench is matched
against them on the one database thread. With a backtracking engine (Python's `re`) a pattern such as
`^(a+)+$` takes seconds on a 40-character read and stalls all benches; RE2 cannot backtrack, so no pattern
can. The price is RE2's syntax: no backreferences, lookahead or lookbehind, atomic groups, possessive
quantifiers or conditionals. Such a pattern is refused when the configuration is validated, with a message
naming the pattern and the feature. Pure computation: no I/O (RE2's own error log is switched off).
"""

from collections.abc import Mapping
from typing import Protocol, cast

import re2  # type: ignore[import-untyped]  # google-re2 ships no type information; see ScanPattern

# Far longer than any barcode pattern needs; it bounds compile time and memory alongside RE2's own budget.
MAX_PATTERN_LENGTH = 1000

# RE2's error text names the construct it stopped at; the first fragment that matches says which feature.
_UNSUPPORTED: tuple[tuple[str, str], ...] = (
    ("invalid perl operator: (?=", "a lookahead (?=...)"),
    ("invalid perl operator: (?!", "a negative lookahead (?!...)"),
    ("invalid perl operator: (?<=", "a lookbehind (?<=...)"),
    ("invalid perl operator: (?<!", "a negative lookbehind (?<!...)"),
    ("invalid perl operator: (?>", "an atomic group (?>...)"),
    ("invalid perl operator: (?(", "a conditional group (?(...)...)"),
    ("invalid perl operator: (?P=", "a named backreference (?P=name)"),
    ("invalid perl operator: (?P>", "a subroutine call (?P>name)"),
    ("invalid perl operator: (?P", "a named backreference (?P=name)"),
    ("invalid perl operator: (?#", "a comment group (?#...)"),
    ("invalid repetition size", "a repetition count above 1000"),
    ("bad repetition operator: *+", "a possessive quantifier *+"),
    ("bad repetition operator: ++", "a possessive quantifier ++"),
    ("bad repetition operator: ?+", "a possessive quantifier ?+"),
    ("pattern too large", "more states than the pattern engine's memory budget allows"),
)


class PatternMatch(Protocol):
    """What a successful match offers: its groups, by number or name."""

    def group(self, group: int | str = 0, /) -> str | None:
        """The text of a group (None if it did not take part in the match)."""


class ScanPattern(Protocol):
    """A compiled scan pattern (the part of RE2's API the interpreter uses)."""

    @property
    def pattern(self) -> str:
        """The pattern's source text."""

    @property
    def groupindex(self) -> Mapping[str, int]:
        """Named groups and their numbers."""

    def fullmatch(self, text: str, /) -> PatternMatch | None:
        """The match of the whole `text`, or None."""


def _options() -> "re2.Options":
    options = re2.Options()
    options.log_errors = False  # RE2 would write every refused pattern to stderr
    return options


_OPTIONS = _options()


def _describe(error: str) -> str:
    for fragment, feature in _UNSUPPORTED:
        if fragment in error:
            return f"{feature}, which the station's pattern engine (RE2, linear-time) does not support"
    escape = "invalid escape sequence: \\"
    if escape in error:
        letter = error.split(escape, 1)[1][:1]
        if letter.isdigit():
            return f"a backreference \\{letter}, which the station's pattern engine (RE2, linear-time) does not support"
        return f"the escape \\{letter}, which RE2 syntax does not have"
    return error


def _error_text(err: Exception) -> str:
    # RE2's binding puts the message in as bytes: b'invalid escape sequence: \\1'.
    message = err.args[0] if err.args else err
    return message.decode("utf-8", "replace") if isinstance(message, bytes) else str(message)


def compile_pattern(pattern: str) -> ScanPattern:
    """Compile a scan pattern with RE2; ValueError naming the pattern and what is wrong with it."""
    if len(pattern) > MAX_PATTERN_LENGTH:
        raise ValueError(
            f"pattern {pattern[:40]!r}... is {len(pattern)} characters long, more than {MAX_PATTERN_LENGTH}"
        )
    try:
        return cast(ScanPattern, re2.compile(pattern, _OPTIONS))
    except re2.error as err:
        raise ValueError(f"invalid regular expression {pattern!r}: {_describe(_error_text(err))}") from err
