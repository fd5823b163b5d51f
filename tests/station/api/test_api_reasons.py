"""Audited reasons: the schema's pattern and the station's own blank check agree, character by character.

Regex engines disagree on `\\s` (Python, pydantic's Rust regex, the ECMAScript regex of JSON Schema tools), so
the pattern spells the blank characters out; these tests hold it to Python's `str.isspace()`, which the
station's `reason.strip()` uses.
"""

import re
import sys

import pytest
from pydantic import BaseModel, ValidationError

from station.api.schemas import BLANK_CHARACTERS, AuditReason

PYTHON_BLANKS = {chr(c) for c in range(sys.maxunicode + 1) if chr(c).isspace()}


class _Body(BaseModel):
    reason: AuditReason


def test_the_blank_class_is_exactly_what_python_strips() -> None:
    blank = re.compile(f"[{BLANK_CHARACTERS}]")
    assert {chr(c) for c in range(sys.maxunicode + 1) if blank.fullmatch(chr(c))} == PYTHON_BLANKS


@pytest.mark.parametrize("char", sorted(PYTHON_BLANKS))
def test_a_reason_of_blanks_is_a_schema_violation(char: str) -> None:
    with pytest.raises(ValidationError):
        _Body(reason=char * 3)


@pytest.mark.parametrize("text", ["x", " 工单 123 ", "\u200b", "\x85a", "a\u3000"])
def test_a_reason_with_anything_else_is_valid_and_not_blank(text: str) -> None:
    assert _Body(reason=text).reason.strip()
