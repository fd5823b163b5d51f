"""Table tests of `interpret`: every kind, every problem code, AIM identifiers, case, context tie-breaks."""

import datetime

import pytest
from biip.checksums import gs1_standard_check_digit

from station.scan import (
    CodeKind,
    Command,
    ItemCode,
    Problem,
    Reading,
    ScanRules,
    Waybill,
    interpret,
)

RULES = ScanRules()
GS = "\x1d"
_PAYLOAD_FIELD = {
    CodeKind.COMMAND: "command",
    CodeKind.BADGE: "badge",
    CodeKind.ORDER: "order_id",
    CodeKind.WAYBILL: "waybill",
    CodeKind.ITEM: "item",
}


def with_check_digit(payload: str) -> str:
    """A GTIN built with biip's check digit: an oracle independent of station.scan.gtin."""
    return payload + str(gs1_standard_check_digit(payload))


def payload_fields(reading: Reading) -> set[str]:
    return {name for name in _PAYLOAD_FIELD.values() if getattr(reading, name) is not None}


def assert_consistent(reading: Reading) -> None:
    if reading.kind is CodeKind.UNKNOWN:
        assert payload_fields(reading) == set()
        assert reading.problem in set(Problem)
        assert reading.alternatives == ()
    else:
        assert payload_fields(reading) == {_PAYLOAD_FIELD[reading.kind]}
        assert reading.problem is None
    for alternative in reading.alternatives:
        assert alternative.kind is not CodeKind.UNKNOWN
        assert alternative.alternatives == ()
        assert (alternative.text, alternative.symbology) == (reading.text, reading.symbology)
        assert_consistent(alternative)


def interpret_checked(raw: bytes | str, rules: ScanRules = RULES, *, open_order: bool = False) -> Reading:
    reading = interpret(raw, rules, open_order=open_order)
    assert_consistent(reading)
    return reading


# --- one table row per kind -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("CMD:COMPLETE", Reading(CodeKind.COMMAND, "CMD:COMPLETE", None, command=Command("COMPLETE", None))),
        (b"CMD:LOGOUT\r\n", Reading(CodeKind.COMMAND, "CMD:LOGOUT", None, command=Command("LOGOUT", None))),
        ("OP-1024", Reading(CodeKind.BADGE, "OP-1024", None, badge="OP-1024", alternatives=(
            Reading(CodeKind.ITEM, "OP-1024", None, item=ItemCode("OP-1024", None)),
        ))),
        ("SV-LI-01", Reading(CodeKind.BADGE, "SV-LI-01", None, badge="SV-LI-01", alternatives=(
            Reading(CodeKind.ITEM, "SV-LI-01", None, item=ItemCode("SV-LI-01", None)),
        ))),
        ("SO20260205-8821", Reading(CodeKind.ORDER, "SO20260205-8821", None, order_id="SO20260205-8821",
                                    alternatives=(Reading(CodeKind.ITEM, "SO20260205-8821", None,
                                                          item=ItemCode("SO20260205-8821", None)),))),
        ("SF1234567890123", Reading(CodeKind.WAYBILL, "SF1234567890123", None,
                                    waybill=Waybill("SF", "SF1234567890123"),
                                    alternatives=(Reading(CodeKind.ITEM, "SF1234567890123", None,
                                                          item=ItemCode("SF1234567890123", None)),))),
        ("6901234567892", Reading(CodeKind.ITEM, "6901234567892", None,
                                  item=ItemCode("6901234567892", "06901234567892"))),
        ("FEEDER-PRO", Reading(CodeKind.ITEM, "FEEDER-PRO", None, item=ItemCode("FEEDER-PRO", None))),
    ],
)  # fmt: skip
def test_each_kind_is_recognised(raw: bytes | str, expected: Reading) -> None:
    assert interpret_checked(raw) == expected


@pytest.mark.parametrize(
    ("raw", "carrier"),
    [
        ("SF123456789012", "SF"),
        ("SF1234567890123", "SF"),
        ("YT1234567890123", "YTO"),
        ("JD0012345678901", "JD"),
        ("JDVA12345678901", "JD"),
        ("EA123456785CN", "EMS"),
        ("78123456789012", "ZTO"),
    ],
)
def test_default_waybill_patterns(raw: str, carrier: str) -> None:
    reading = interpret_checked(raw)
    assert reading.kind is CodeKind.WAYBILL
    assert reading.waybill == Waybill(carrier, raw)


@pytest.mark.parametrize(
    ("raw", "gtin14"),
    [
        ("96385074", "00000096385074"),  # GTIN-8
        ("036000291452", "00036000291452"),  # UPC-A
        ("4006381333931", "04006381333931"),  # EAN-13
        ("07032069804988", "07032069804988"),  # GTIN-14
    ],
)
def test_gtin_lengths_normalise_to_14_digits(raw: str, gtin14: str) -> None:
    reading = interpret_checked(raw)
    assert reading.kind is CodeKind.ITEM
    assert reading.item == ItemCode(raw, gtin14)


# --- one table row per problem code -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "problem"),
    [
        (b"\xff\xfeSO1", Problem.INVALID_UTF8),
        (b"CMD:\xc3", Problem.INVALID_UTF8),  # truncated multi-byte sequence
        ("OP-1\udcff", Problem.INVALID_UTF8),  # lone surrogate from a lossy decode upstream
        ("A" * 513, Problem.TOO_LONG),
        (b"X" * 10_240, Problem.TOO_LONG),
        ("OP-1\x00", Problem.CONTROL_CHARACTERS),
        ("OP-1\t", Problem.CONTROL_CHARACTERS),  # a tab suffix: misconfigured scanner
        ("6901234567892\x1b[0m", Problem.CONTROL_CHARACTERS),
        ("SO20260205-8821\r\nOP-1", Problem.CONTROL_CHARACTERS),  # two reads glued together
        ("\ufeffOP-1", Problem.CONTROL_CHARACTERS),  # BOM
        ("OP\u200b-1", Problem.CONTROL_CHARACTERS),  # zero-width space
        ("\x7f", Problem.CONTROL_CHARACTERS),
        ("", Problem.EMPTY),
        (b"\r\n", Problem.EMPTY),
        ("   ", Problem.EMPTY),
        ("]C1", Problem.EMPTY),
        ("]E0\r", Problem.EMPTY),
        (GS, Problem.EMPTY),
        ("CMD:", Problem.UNKNOWN_COMMAND),
        ("CMD:SHIP", Problem.UNKNOWN_COMMAND),
        ("CMD:QTY", Problem.BAD_COMMAND_ARGUMENT),
        ("CMD:QTY:0", Problem.BAD_COMMAND_ARGUMENT),
        ("CMD:QTY:1000", Problem.BAD_COMMAND_ARGUMENT),
        ("CMD:QTY:-1", Problem.BAD_COMMAND_ARGUMENT),
        ("CMD:QTY:2.5", Problem.BAD_COMMAND_ARGUMENT),
        ("CMD:QTY:\u0663", Problem.BAD_COMMAND_ARGUMENT),  # Arabic-Indic three: a digit, but not ASCII
        ("CMD:COMPLETE:now", Problem.BAD_COMMAND_ARGUMENT),
        ("CMD:BATCH", Problem.BAD_COMMAND_ARGUMENT),
        ("CMD:BATCH:DHL", Problem.BAD_COMMAND_ARGUMENT),
        ("6901234567893", Problem.BAD_CHECK_DIGIT),
        ("96385075", Problem.BAD_CHECK_DIGIT),
        ("0106901234567893", Problem.BAD_CHECK_DIGIT),  # AI 01 with a bad GTIN
        ("]C1" + "99", Problem.GS1_INVALID),
        ("]d2" + "0106901234567892" + "17261399", Problem.GS1_INVALID),  # month 13
        ("0106901234567892" + GS + "10", Problem.GS1_INVALID),  # empty batch
        ("(01)06901234567892(10)", Problem.GS1_INVALID),
        ("]C1" + "0106901234567892" + "10ABC" + "17261231" + "21X", Problem.GS1_SEPARATOR_MISSING),
        ("]C1" + "00106141411234567897", Problem.GS1_WITHOUT_GTIN),  # SSCC carton label
        ("hello world", Problem.UNKNOWN_CODE),
        ("'; DROP TABLE orders; --", Problem.UNKNOWN_CODE),
        ("https://example.com/p?id=1", Problem.UNKNOWN_CODE),
        ("破损", Problem.UNKNOWN_CODE),
        ("AB", Problem.UNKNOWN_CODE),  # too short for an internal SKU
    ],
)
def test_each_problem_code(raw: bytes | str, problem: Problem) -> None:
    reading = interpret_checked(raw)
    assert reading.kind is CodeKind.UNKNOWN
    assert reading.problem == problem


def test_unsupported_input_type_is_refused_not_raised() -> None:
    reading = interpret(12345, RULES)  # type: ignore[arg-type]
    assert reading.problem == Problem.UNSUPPORTED_INPUT


def test_internal_errors_are_logged_and_refused(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    def explode(*_args: object, **_kwargs: object) -> None:
        raise RuntimeError("boom")

    monkeypatch.setattr("station.scan.interpreter.decode", explode)
    reading = interpret("OP-1", RULES)
    assert reading == Reading(CodeKind.UNKNOWN, "", None, problem=Problem.INTERNAL_ERROR)
    assert "scan interpreter failed" in caplog.text


def test_bytearray_and_memoryview_are_read_like_bytes() -> None:
    # Outside the declared type on purpose: a driver handing over its read buffer must still work.
    assert interpret(bytearray(b"OP-7"), RULES).badge == "OP-7"  # type: ignore[arg-type]
    assert interpret(memoryview(b"OP-7"), RULES).badge == "OP-7"  # type: ignore[arg-type]


def test_control_characters_are_shown_escaped() -> None:
    reading = interpret_checked("OP-1\x00\u200b")
    assert reading.text == "OP-1\\x00\\u200b"


def test_max_length_is_configurable_and_excludes_the_terminator() -> None:
    rules = ScanRules(max_length=16)
    assert interpret_checked("A" * 16 + "\r\n", rules).kind is CodeKind.ITEM
    assert interpret_checked("A" * 17, rules).problem == Problem.TOO_LONG


def test_surrounding_spaces_and_terminators_are_stripped() -> None:
    assert interpret_checked(b"  OP-1  \r\n").badge == "OP-1"
    assert interpret_checked("OP-1\n\n").text == "OP-1"


# --- commands ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "command"),
    [
        ("CMD:QTY:3", Command("QTY", "3")),
        ("CMD:QTY:007", Command("QTY", "7")),
        ("CMD:QTY:999", Command("QTY", "999")),
        ("cmd:qty:12", Command("QTY", "12")),  # CapsLock-inverted scanner
        ("CMD:HOLD", Command("HOLD", None)),
        ("CMD:HOLD:", Command("HOLD", None)),
        ("CMD:HOLD:damaged", Command("HOLD", "damaged")),
        ("CMD:HOLD:外箱破损", Command("HOLD", "外箱破损")),
        ("CMD:ABORT:customer called: cancel", Command("ABORT", "customer called: cancel")),
        ("CMD:REOPEN:wrong gift", Command("REOPEN", "wrong gift")),
        ("CMD:BATCH:SF", Command("BATCH", "SF")),
        ("CMD:BATCH:zto", Command("BATCH", "ZTO")),
        ("CMD:BATCH:CLOSE", Command("BATCH", "CLOSE")),
        ("CMD: COMPLETE ", Command("COMPLETE", None)),
    ],
)
def test_commands(raw: str, command: Command) -> None:
    reading = interpret_checked(raw)
    assert reading.kind is CodeKind.COMMAND
    assert reading.command == command
    assert reading.alternatives == ()


def test_command_prefix_is_configurable() -> None:
    rules = ScanRules(command_prefix="#")
    assert interpret_checked("#COMPLETE", rules).command == Command("COMPLETE", None)
    assert interpret_checked("CMD:COMPLETE", rules).kind is CodeKind.UNKNOWN


def test_without_case_folding_lower_case_codes_are_not_commands_or_badges() -> None:
    rules = ScanRules(fold_case=False)
    assert interpret_checked("cmd:complete", rules).problem == Problem.UNKNOWN_CODE
    assert interpret_checked("CMD:complete", rules).problem == Problem.UNKNOWN_COMMAND
    reading = interpret_checked("op-1", rules)
    assert reading.kind is CodeKind.ITEM  # only the case-sensitive SKU pattern matches


# --- case -------------------------------------------------------------------------------------------------


def test_badge_order_and_waybill_identifiers_are_upper_cased_but_text_is_not() -> None:
    badge = interpret_checked("op-jane")
    assert (badge.badge, badge.text) == ("OP-JANE", "op-jane")
    assert interpret_checked("so20260205-8821").order_id == "SO20260205-8821"
    waybill = interpret_checked("sf1234567890123")
    assert waybill.waybill == Waybill("SF", "SF1234567890123")


def test_item_codes_keep_their_case() -> None:
    reading = interpret_checked("Bowl-gift.v2")
    assert reading.item == ItemCode("Bowl-gift.v2", None)


# --- AIM symbology identifiers ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "symbology", "text", "kind"),
    [
        ("]E06901234567892", "]E0", "6901234567892", CodeKind.ITEM),
        ("]E496385074", "]E4", "96385074", CodeKind.ITEM),
        ("]C0SO20260205-8821", "]C0", "SO20260205-8821", CodeKind.ORDER),
        ("]Q1CMD:COMPLETE", "]Q1", "CMD:COMPLETE", CodeKind.COMMAND),
        ("]A0OP-42", "]A0", "OP-42", CodeKind.BADGE),
        ("]C1" + "0106901234567892", "]C1", "0106901234567892", CodeKind.ITEM),
        ("]d2" + "0106901234567892", "]d2", "0106901234567892", CodeKind.ITEM),
        ("]Q3" + "0106901234567892", "]Q3", "0106901234567892", CodeKind.ITEM),
        ("]e0" + "0106901234567892", "]e0", "0106901234567892", CodeKind.ITEM),
        (b"]C0FEEDER-PRO\r\n", "]C0", "FEEDER-PRO", CodeKind.ITEM),
        ("]1", None, "]1", CodeKind.UNKNOWN),
        ("]C0 OP-1 ", "]C0", "OP-1", CodeKind.BADGE),  # not an identifier: kept as data
    ],
)
def test_aim_identifier_is_read_and_stripped(
    raw: str | bytes, symbology: str | None, text: str, kind: CodeKind
) -> None:
    reading = interpret_checked(raw)
    assert (reading.symbology, reading.text, reading.kind) == (symbology, text, kind)
    for alternative in reading.alternatives:
        assert alternative.symbology == symbology


def test_gs1_symbology_forces_gs1_parsing() -> None:
    # Without an AIM id this 13-digit text is an EAN-13; behind ]C1 it must be GS1 data, and 69... is no AI.
    assert interpret_checked("]C1" + "6901234567892").problem == Problem.GS1_INVALID


def test_ean_symbology_makes_a_valid_gtin_an_item_only() -> None:
    ems_like = with_check_digit("101234567890")
    assert interpret_checked(ems_like).kind is CodeKind.WAYBILL
    reading = interpret_checked("]E0" + ems_like)
    assert reading.kind is CodeKind.ITEM
    assert reading.alternatives == ()


# --- context tie-breaking ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("code", "carrier"),
    [
        (with_check_digit("101234567890"), "EMS"),  # 13 digits: EMS domestic and EAN-13
        (with_check_digit("9787111213"[:10] + "82"), "EMS"),  # ISBN-like EAN-13 starting 9
        (with_check_digit("7512345678901"), "ZTO"),  # 14 digits: ZTO and GTIN-14
    ],
)
def test_open_order_prefers_the_item_reading(code: str, carrier: str) -> None:
    without_order = interpret_checked(code, open_order=False)
    assert without_order.kind is CodeKind.WAYBILL
    assert without_order.waybill == Waybill(carrier, code)
    assert [alt.kind for alt in without_order.alternatives] == [CodeKind.ITEM]
    assert without_order.alternatives[0].item == ItemCode(code, code.zfill(14))

    with_order = interpret_checked(code, open_order=True)
    assert with_order.kind is CodeKind.ITEM
    assert with_order.item == ItemCode(code, code.zfill(14))
    assert [alt.kind for alt in with_order.alternatives] == [CodeKind.WAYBILL]


def test_waybill_with_bad_gtin_check_digit_is_just_a_waybill() -> None:
    code = with_check_digit("101234567890")
    wrong = code[:-1] + str((int(code[-1]) + 1) % 10)
    for open_order in (False, True):
        reading = interpret_checked(wrong, open_order=open_order)
        assert reading.kind is CodeKind.WAYBILL
        assert reading.alternatives == ()


def test_internal_sku_never_outranks_an_order_even_with_an_order_open() -> None:
    reading = interpret_checked("SO20260205-9001", open_order=True)
    assert reading.kind is CodeKind.ORDER
    assert [alt.kind for alt in reading.alternatives] == [CodeKind.ITEM]


def test_every_matching_carrier_is_offered() -> None:
    rules = ScanRules(waybill_patterns={"SF": r"SF\d{12,13}", "SFI": r"SF\d{13}"})
    reading = interpret_checked("SF1234567890123", rules)
    assert reading.waybill == Waybill("SF", "SF1234567890123")
    assert [alt.waybill for alt in reading.alternatives if alt.waybill] == [Waybill("SFI", "SF1234567890123")]


def test_named_id_group_extracts_the_identifier() -> None:
    rules = ScanRules(order_patterns=[r"PT-(?P<id>SO\d{8}-\d+)"])
    assert interpret_checked("PT-SO20260205-8821", rules).order_id == "SO20260205-8821"


# --- GS aliases -------------------------------------------------------------------------------------------


@pytest.mark.parametrize("separator", [GS, "<GS>", "^]"])
def test_gs_and_its_keyboard_aliases(separator: str) -> None:
    reading = interpret_checked("0106901234567892" + "10L2401" + separator + "21SN0001")
    assert reading.item == ItemCode(
        "0106901234567892" + "10L2401" + GS + "21SN0001",
        "06901234567892",
        batch="L2401",
        serial="SN0001",
        is_gs1=True,
    )
    assert reading.text == reading.item.code


def test_gs_aliases_are_configurable() -> None:
    rules = ScanRules(gs_aliases=["{GS}"])
    reading = interpret_checked("0106901234567892" + "10L2401" + "{GS}" + "17270100", rules)
    assert reading.item is not None
    assert reading.item.expiry == datetime.date(2027, 1, 31)
    # "<" and ">" are legal in GS1 batches, so once "<GS>" is no alias it is batch data.
    other = interpret_checked("0106901234567892" + "10L2401" + "<GS>" + "21X", rules)
    assert other.item is not None
    assert (other.item.batch, other.item.serial) == ("L2401<GS>21X", None)


def test_gs_outside_gs1_data_is_refused_as_gs1() -> None:
    assert interpret_checked("OP-1" + GS).problem == Problem.GS1_INVALID
    assert interpret_checked("CMD:HOLD:" + GS).problem == Problem.GS1_INVALID
