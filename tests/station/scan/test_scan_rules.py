"""`ScanRules` validation: bad values are errors that name the field, and every field is documented."""

import pytest
from pydantic import ValidationError

from station.scan import ScanRules


def error_locations(**values: object) -> list[tuple[str | int, ...]]:
    with pytest.raises(ValidationError) as caught:
        ScanRules.model_validate(values)
    return [error["loc"] for error in caught.value.errors()]


@pytest.mark.parametrize(
    ("values", "location"),
    [
        ({"badge_patterns": ["^OP-[A-Z"]}, ("badge_patterns", 0)),
        ({"order_patterns": [r"^SO\d{8}-\d+$", "(unclosed"]}, ("order_patterns", 1)),
        ({"item_code_patterns": ["*"]}, ("item_code_patterns", 0)),
        ({"waybill_patterns": {"SF": r"SF[0-9"}}, ("waybill_patterns", "SF")),
        ({"waybill_patterns": {"sf": r"SF\d{13}"}}, ("waybill_patterns",)),
        ({"waybill_patterns": {"CLOSE": r"C\d+"}}, ("waybill_patterns",)),
        ({"command_prefix": ""}, ("command_prefix",)),
        ({"command_prefix": "CMD :"}, ("command_prefix",)),
        ({"max_length": 0}, ("max_length",)),
        ({"max_length": 100_000}, ("max_length",)),
        ({"gs_aliases": [""]}, ("gs_aliases",)),
        ({"gs_aliases": ["\x1d"]}, ("gs_aliases",)),
        ({"fold_case": "maybe"}, ("fold_case",)),
        ({"badge_pattern": ["^OP-"]}, ("badge_pattern",)),  # a typo is an error, never a silent default
    ],
)
def test_invalid_values_name_the_field(values: dict[str, object], location: tuple[str | int, ...]) -> None:
    assert error_locations(**values) == [location]


def test_bad_regex_message_quotes_the_pattern() -> None:
    with pytest.raises(ValidationError, match=r"invalid regular expression '\^OP-\[A-Z'"):
        ScanRules(badge_patterns=["^OP-[A-Z"])


def test_every_field_has_a_default_and_a_description() -> None:
    for name, field in ScanRules.model_fields.items():
        assert not field.is_required(), name
        assert field.description, name
        assert len(field.description) > 20, name


def test_rules_are_frozen_so_compiled_patterns_cannot_go_stale() -> None:
    rules = ScanRules()
    assert rules.compiled is rules.compiled
    with pytest.raises(ValidationError):
        rules.max_length = 10  # type: ignore[misc]


def test_rules_load_from_toml_like_data() -> None:
    rules = ScanRules.model_validate(
        {"waybill_patterns": {"STO": r"^(?:77|88)\d{11}$"}, "order_patterns": [r"^\d{6}-[A-Z]{2}$"]}
    )
    assert [carrier for carrier, _ in rules.compiled.waybills] == ["STO"]
    assert rules.compiled.orders[0].fullmatch("202602-AB")


@pytest.mark.parametrize(
    ("kind", "matching", "not_matching"),
    [
        ("badges", ["OP-1024", "SV-ZHANG-01"], ["OP-", "XX-1", "OP-" + "A" * 33]),
        ("orders", ["SO20260205-8821"], ["SO2026-1", "SO20260205", "6921345500012"]),
        ("items", ["FEEDER-PRO", "BOWL_GIFT", "abc/1.2"], ["AB", "-X1", "A B", "商品"]),
    ],
)
def test_default_patterns(kind: str, matching: list[str], not_matching: list[str]) -> None:
    patterns = getattr(ScanRules().compiled, kind)
    for code in matching:
        assert any(pattern.fullmatch(code) for pattern in patterns), code
    for code in not_matching:
        assert not any(pattern.fullmatch(code) for pattern in patterns), code
