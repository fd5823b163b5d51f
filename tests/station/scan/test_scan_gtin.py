"""GTIN check digits, checked against biip's independent implementation."""

import pytest
from biip.checksums import gs1_standard_check_digit
from hypothesis import given
from hypothesis import strategies as st

from station.scan import to_gtin14
from station.scan.gtin import check_digit, is_valid_gtin, looks_like_gtin

payloads = st.sampled_from([7, 11, 12, 13]).flatmap(
    lambda length: st.text(alphabet="0123456789", min_size=length, max_size=length)
)


@given(payloads)
def test_check_digit_agrees_with_biip(payload: str) -> None:
    assert check_digit(payload) == gs1_standard_check_digit(payload)


@given(payloads, st.integers(min_value=1, max_value=9))
def test_any_wrong_check_digit_is_refused(payload: str, offset: int) -> None:
    right = check_digit(payload)
    assert is_valid_gtin(payload + str(right))
    assert not is_valid_gtin(payload + str((right + offset) % 10))


@pytest.mark.parametrize(
    ("text", "gtin14"),
    [
        ("96385074", "00000096385074"),
        ("036000291452", "00036000291452"),
        ("6901234567892", "06901234567892"),
        ("10614141000415", "10614141000415"),
        ("6901234567893", None),
        ("690123456789", None),  # 12 digits, wrong check digit
        ("6901234567", None),  # not a GTIN length
        ("69012345678920", None),
        ("69O1234567892", None),
        ("\u0666901234567892", None),  # Arabic-Indic six: isdigit() but not a GTIN digit
        ("", None),
    ],
)
def test_to_gtin14(text: str, gtin14: str | None) -> None:
    assert to_gtin14(text) == gtin14


def test_looks_like_gtin_ignores_the_check_digit() -> None:
    assert looks_like_gtin("6901234567893")
    assert not looks_like_gtin("690123456789012")
