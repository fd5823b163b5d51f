"""Scan patterns are RE2: a pattern that would backtrack catastrophically in Python's `re` still answers a scan,
named groups still pick out the identifier, and what RE2 cannot do is refused at validation, naming the
pattern and the feature."""

import pytest
from pydantic import ValidationError

from station.scan import CodeKind, Problem, ScanRules, interpret
from station.scan.patterns import MAX_PATTERN_LENGTH, compile_pattern

EVIL = r"^(a+)+$"


def test_a_catastrophic_pattern_answers_a_scan() -> None:
    # Python's re takes exponential time on this read (every split of the a's is tried before failing);
    # RE2 answers it in one pass. No timing assertion: a hang here is the failure.
    rules = ScanRules(order_patterns=[EVIL], item_code_patterns=[EVIL], fold_case=False)
    reading = interpret("a" * 40 + "!", rules)
    assert reading.kind is CodeKind.UNKNOWN
    assert reading.problem is Problem.UNKNOWN_CODE
    assert interpret("a" * 40, rules).order_id == "a" * 40


def test_named_groups_pick_the_identifier_out_of_a_longer_code() -> None:
    rules = ScanRules(order_patterns=[r"^PT-(?P<id>SO\d{8}-\d+)$"])
    reading = interpret("PT-SO20260205-8821", rules)
    assert (reading.kind, reading.order_id) == (CodeKind.ORDER, "SO20260205-8821")
    waybills = ScanRules(waybill_patterns={"SF": r"^(?:WB)?(?P<id>SF\d{12})$"})
    waybill = interpret("WBSF123456789012", waybills).waybill
    assert waybill is not None
    assert (waybill.carrier, waybill.number) == ("SF", "SF123456789012")


@pytest.mark.parametrize(
    ("pattern", "feature"),
    [
        (r"^(SO\d+)-\1$", r"a backreference \1"),
        (r"^(?P<x>SO\d+)-(?P=x)$", "a named backreference (?P=name)"),
        (r"^SO(?=\d)\d+$", "a lookahead (?=...)"),
        (r"^SO(?!0)\d+$", "a negative lookahead (?!...)"),
        (r"^\d+(?<=5)$", "a lookbehind (?<=...)"),
        (r"^\d+(?<!5)$", "a negative lookbehind (?<!...)"),
        (r"^(?>SO)\d+$", "an atomic group (?>...)"),
        (r"^SO\d++$", "a possessive quantifier ++"),
        (r"^(S)?(?(1)O|X)\d+$", "a conditional group"),
        (r"^SO\d{1001}$", "a repetition count above 1000"),
        (r"^SO\d+\Z", r"the escape \Z"),
    ],
)
def test_what_re2_cannot_do_is_refused_naming_pattern_and_feature(pattern: str, feature: str) -> None:
    with pytest.raises(ValidationError) as caught:
        ScanRules(order_patterns=[pattern])
    (error,) = caught.value.errors()
    assert error["loc"] == ("order_patterns", 0)
    assert f"invalid regular expression {pattern!r}" in error["msg"]
    assert feature in error["msg"]


def test_a_backreference_is_refused_in_every_pattern_field() -> None:
    for field, value in (
        ("badge_patterns", [r"^(OP)-\1$"]),
        ("item_code_patterns", [r"^(A)\1$"]),
        ("waybill_patterns", {"SF": r"^(SF)\1\d+$"}),
    ):
        with pytest.raises(ValidationError, match=r"backreference \\1, which the station's pattern engine"):
            ScanRules.model_validate({field: value})


def test_an_overlong_pattern_is_refused() -> None:
    with pytest.raises(ValueError, match=f"more than {MAX_PATTERN_LENGTH}"):
        compile_pattern("A" * (MAX_PATTERN_LENGTH + 1))
    assert compile_pattern("A" * MAX_PATTERN_LENGTH).fullmatch("A" * MAX_PATTERN_LENGTH) is not None


def test_re2_digits_are_ascii_digits() -> None:
    # Python's \d also matches other scripts' digits (e.g. full-width １２３); RE2's, like a barcode's, do not.
    assert compile_pattern(r"^SO\d{3}$").fullmatch("SO１２３") is None
    assert compile_pattern(r"^SO\d{3}$").fullmatch("SO123") is not None
