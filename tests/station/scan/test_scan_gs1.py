"""GS1 element strings: with and without GS, the parenthesised form, AI 17 dates, and lost separators."""

import datetime

import pytest

from station.scan import CodeKind, ItemCode, Problem, ScanRules, interpret
from station.scan.gs1 import parse_gs1

RULES = ScanRules()
LENIENT = ScanRules(detect_swallowed_gs1_fields=False)
GS = "\x1d"
GTIN = "09501101530003"  # GS1's own example GTIN, check digit valid


def item_of(raw: str, rules: ScanRules = RULES) -> ItemCode:
    reading = interpret(raw, rules)
    assert reading.kind is CodeKind.ITEM, reading
    assert reading.item is not None
    return reading.item


def problem_of(raw: str, rules: ScanRules = RULES) -> str | None:
    reading = interpret(raw, rules)
    assert reading.kind is CodeKind.UNKNOWN, reading
    return reading.problem


# --- well-formed data -------------------------------------------------------------------------------------


def test_gtin_batch_expiry_serial_with_separators() -> None:
    data = "01" + GTIN + "17" + "270615" + "10" + "L2401A" + GS + "21" + "SN000123"
    item = item_of("]C1" + data)
    assert item == ItemCode(
        data, GTIN, batch="L2401A", expiry=datetime.date(2027, 6, 15), serial="SN000123", is_gs1=True
    )


def test_fields_in_any_order() -> None:
    data = "21" + "SN9" + GS + "01" + GTIN + "10" + "B-7" + GS + "17" + "280229"
    item = item_of("]d2" + data)
    assert (item.gtin14, item.batch, item.serial, item.expiry) == (GTIN, "B-7", "SN9", datetime.date(2028, 2, 29))


def test_last_variable_field_needs_no_separator_and_a_trailing_one_is_tolerated() -> None:
    assert item_of("01" + GTIN + "10" + "ABC").batch == "ABC"
    assert item_of("01" + GTIN + "10" + "ABC" + GS).batch == "ABC"


def test_leading_gs_standing_for_fnc1_is_ignored() -> None:
    assert item_of(GS + "01" + GTIN + "21" + "X1").serial == "X1"


def test_gtin_only_element_string_without_aim_identifier() -> None:
    assert item_of("01" + GTIN) == ItemCode("01" + GTIN, GTIN, is_gs1=True)


def test_gs1_data_behind_a_non_gs1_symbology_is_still_read() -> None:
    # Labels printed as plain Code 128 with GS1 content are common; the AI 01 prefix is evidence enough.
    item = item_of("]C0" + "01" + GTIN + "17" + "270100")
    assert item.expiry == datetime.date(2027, 1, 31)


@pytest.mark.parametrize(
    ("yymmdd", "expected"),
    [
        ("270100", datetime.date(2027, 1, 31)),
        ("270200", datetime.date(2027, 2, 28)),
        ("280200", datetime.date(2028, 2, 29)),  # leap year
        ("270400", datetime.date(2027, 4, 30)),
        ("271200", datetime.date(2027, 12, 31)),
        ("270415", datetime.date(2027, 4, 15)),
    ],
)
def test_expiry_day_00_is_the_last_day_of_the_month(yymmdd: str, expected: datetime.date) -> None:
    assert item_of("]C1" + "01" + GTIN + "17" + yymmdd).expiry == expected


@pytest.mark.parametrize("yymmdd", ["271301", "270230", "270132", "2701"])
def test_impossible_expiry_is_invalid(yymmdd: str) -> None:
    assert problem_of("]C1" + "01" + GTIN + "17" + yymmdd) == Problem.GS1_INVALID


# --- the parenthesised human-readable form ----------------------------------------------------------------


def test_parenthesised_form() -> None:
    text = f"(01){GTIN}(17)270600(10)L2401(21)SN 0001"
    item = item_of(text)
    assert item == ItemCode(text, GTIN, batch="L2401", expiry=datetime.date(2027, 6, 30), serial="SN0001", is_gs1=True)


def test_parenthesised_form_never_flags_a_missing_separator() -> None:
    # The parentheses delimit every field, so a batch that looks like it holds a date is what it says.
    assert item_of(f"(01){GTIN}(10)ABC17261231").batch == "ABC17261231"


@pytest.mark.parametrize(
    "text",
    [
        f"(01){GTIN}(99",
        f"(01){GTIN}(10)",
        f"(01){GTIN}(00)1234",
        "(01)123",
        f"(01){GTIN}(17)270600junk)",
    ],
)
def test_bad_parenthesised_form_is_invalid(text: str) -> None:
    assert problem_of(text) == Problem.GS1_INVALID


# --- problems ---------------------------------------------------------------------------------------------


def test_gs1_without_gtin_is_not_an_item() -> None:
    assert problem_of("]C1" + "10" + "L1" + GS + "17" + "270101") == Problem.GS1_WITHOUT_GTIN
    assert problem_of("(00)106141411234567897") == Problem.GS1_WITHOUT_GTIN


def test_bad_gtin_check_digit_inside_gs1() -> None:
    assert problem_of("]C1" + "01" + GTIN[:-1] + "4" + "10" + "ABC") == Problem.BAD_CHECK_DIGIT


def test_same_ai_twice_with_different_values_is_invalid() -> None:
    assert problem_of("]C1" + "01" + GTIN + "10" + "A" + GS + "10" + "B") == Problem.GS1_INVALID
    assert item_of("]C1" + "01" + GTIN + "10" + "A" + GS + "10" + "A").batch == "A"


def test_character_outside_the_gs1_set_is_invalid() -> None:
    assert problem_of("]C1" + "01" + GTIN + "10" + "AB CD") == Problem.GS1_INVALID
    assert problem_of("]C1" + "01" + GTIN + "10" + "批号") == Problem.GS1_INVALID


# --- lost separators --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "data",
    [
        # batch swallowed expiry and serial (GTIN, batch, expiry, serial; no GS at all)
        "01" + GTIN + "10" + "ABC123" + "17" + "261231" + "21" + "SN0001",
        # pharma-style, batch swallowed expiry
        "01" + "05012345678900" + "10" + "A1B2C3" + "17" + "270531",
        # serial swallowed an expiry with DD=00
        "01" + GTIN + "21" + "SN12345" + "17" + "270100",
        # batch swallowed best-before date and a serial
        "01" + GTIN + "10" + "LOT7" + "15" + "261130" + "21" + "A1",
        # batch first, it swallowed the GTIN itself
        "10" + "LOT42" + "01" + "06901234567892",
        # batch swallowed a production date, then a GS follows before the serial
        "01" + GTIN + "10" + "B12" + "11" + "250101" + GS + "21" + "Q7",
        # a 20-character batch (the maximum) followed by more fields without a GS
        "01" + GTIN + "10" + "ABCDEFGHIJKLMNOPQRST" + "17" + "261231",
        # same, with a serial (free text, not self-checking) after the full-length batch
        "01" + GTIN + "10" + "ABCDEFGHIJKLMNOPQRST" + "21" + "SERIAL",
    ],
)
@pytest.mark.parametrize("prefix", ["]C1", "]d2", ""])
def test_missing_separator_is_flagged(data: str, prefix: str) -> None:
    if not prefix and not data.startswith("01"):
        prefix = "]C1"  # without an AIM id only AI 01 in front says "GS1"
    assert problem_of(prefix + data) == Problem.GS1_SEPARATOR_MISSING


def test_full_length_field_without_separator_is_flagged_even_with_the_heuristic_off() -> None:
    data = "]C1" + "01" + GTIN + "10" + "ABCDEFGHIJKLMNOPQRST" + "21" + "SERIAL"
    assert problem_of(data, LENIENT) == Problem.GS1_SEPARATOR_MISSING


def test_heuristic_can_be_turned_off() -> None:
    data = "]C1" + "01" + GTIN + "10" + "A1B2C3" + "17" + "270531"
    assert item_of(data, LENIENT).batch == "A1B2C3" + "17" + "270531"


@pytest.mark.parametrize(
    ("data", "batch", "serial"),
    [
        # "17" followed by too few digits for a date
        ("01" + GTIN + "10" + "ABC1726", "ABC1726", None),
        # "17" + six digits that are not a date (month 13)
        ("01" + GTIN + "10" + "X17261399", "X17261399", None),
        # the message already has its expiry: a date-looking batch tail cannot be a second AI 17
        ("01" + GTIN + "17" + "270101" + "10" + "L17250101", "L17250101", None),
        # a GTIN-looking tail with a wrong check digit
        ("01" + GTIN + "10" + "B" + "01" + "09501101530004", "B0109501101530004", None),
        # the date is the whole field: a field keeps at least one character of its own
        ("01" + GTIN + "10" + "17261231", "17261231", None),
        # numeric batch that contains "21": free-text AIs are not evidence (see the documented limit)
        ("01" + GTIN + "10" + "2024010521", "2024010521", None),
        # proper separators around a batch that merely contains "17"
        ("01" + GTIN + "10" + "A17B" + GS + "21" + "S17", "A17B", "S17"),
        # date-like tail followed by something that does not parse
        ("01" + GTIN + "10" + "Z" + "17261231" + "-x", "Z17261231-x", None),
    ],
)
def test_legitimate_fields_are_not_flagged(data: str, batch: str | None, serial: str | None) -> None:
    item = item_of("]C1" + data)
    assert (item.batch, item.serial) == (batch, serial)


def test_undetectable_batch_swallowing_serial_is_a_known_limit() -> None:
    # Documented in station.scan.gs1: both fields are free text, so nothing tells them apart.
    item = item_of("]C1" + "01" + GTIN + "10" + "L2401" + "21" + "SN88")
    assert (item.batch, item.serial) == ("L240121SN88", None)


def test_parse_gs1_reports_empty_data_as_invalid() -> None:
    assert parse_gs1(GS + GS).problem == Problem.GS1_INVALID
