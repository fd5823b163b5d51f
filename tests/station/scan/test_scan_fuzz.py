"""Property tests: `interpret` never raises, always answers consistently, and reads valid GS1 back exactly."""

import calendar
import dataclasses
import datetime
import re
import unicodedata
from dataclasses import dataclass

from biip.checksums import gs1_standard_check_digit
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from station.scan import CodeKind, ItemCode, Problem, Reading, ScanRules, interpret

RULES = ScanRules()
GS = "\x1d"
# The first call into biip loads its tables; a per-example deadline would make that flaky, not safer.
FUZZ = settings(deadline=None, max_examples=200, suppress_health_check=[HealthCheck.too_slow])
_PAYLOAD_FIELD = {
    CodeKind.COMMAND: "command",
    CodeKind.BADGE: "badge",
    CodeKind.ORDER: "order_id",
    CodeKind.WAYBILL: "waybill",
    CodeKind.ITEM: "item",
}
# GS1 character set 82 without the parentheses of the printed form and the "<" ">" of the "<GS>" alias.
_FIELD_CHARS = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789!\"%&'*+,-./:;=?_"
# Unicode categories that must never reach a log line or the bench screen unescaped.
_UNSHOWABLE = frozenset({"Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp"})
_BARCODE_CHARS = "0123456789ABCDEFGHJKLOPQSTVWXYZabcdeoqs:-_./()<>^] " + GS


def assert_consistent(reading: Reading, *, nested: bool = False) -> None:
    """Exactly the payload field of `kind` is set; UNKNOWN has a problem and nothing else; text is printable."""
    assert reading.problem != Problem.INTERNAL_ERROR
    fields = {name for name in _PAYLOAD_FIELD.values() if getattr(reading, name) is not None}
    if reading.kind is CodeKind.UNKNOWN:
        assert not nested
        assert fields == set()
        assert reading.problem in set(Problem)
        assert reading.alternatives == ()
    else:
        assert fields == {_PAYLOAD_FIELD[reading.kind]}
        assert reading.problem is None
    assert all(char == GS or unicodedata.category(char) not in _UNSHOWABLE for char in reading.text)
    if reading.symbology is not None:
        assert re.fullmatch(r"\][A-Za-z][0-9A-Za-z]", reading.symbology)
    if reading.item is not None:
        assert reading.item.code == reading.text
        gtin14 = reading.item.gtin14
        assert gtin14 is None or (len(gtin14) == 14 and gtin14.isdigit())
    if nested:
        assert reading.alternatives == ()
    for alternative in reading.alternatives:
        assert (alternative.text, alternative.symbology) == (reading.text, reading.symbology)
        assert_consistent(alternative, nested=True)


def readings(reading: Reading) -> set[Reading]:
    """The primary reading (without its alternatives) and its alternatives, as a set."""
    return {dataclasses.replace(reading, alternatives=()), *reading.alternatives}


# --- never raises, always consistent ----------------------------------------------------------------------


@FUZZ
@given(st.binary(max_size=12_000), st.booleans())
def test_random_bytes(raw: bytes, open_order: bool) -> None:
    assert_consistent(interpret(raw, RULES, open_order=open_order))


@FUZZ
@given(st.text(max_size=600), st.booleans())
def test_random_text(raw: str, open_order: bool) -> None:
    assert_consistent(interpret(raw, RULES, open_order=open_order))


@FUZZ
@given(
    st.sampled_from(["", "]C1", "]C0", "]E0", "]d2", "]Q3", "]e0", "CMD:", "cmd:qty:", "OP-", "SO", "SF", "01"]),
    st.text(alphabet=_BARCODE_CHARS, max_size=80),
    st.sampled_from(["", "\r\n", "\n", "\r"]),
    st.booleans(),
)
def test_barcode_like_text(prefix: str, body: str, terminator: str, open_order: bool) -> None:
    reading = interpret((prefix + body + terminator).encode(), RULES, open_order=open_order)
    assert_consistent(reading)


@FUZZ
@given(st.text(alphabet="0123456789", min_size=1, max_size=40))
def test_context_only_reorders_readings(digits: str) -> None:
    without_order = interpret(digits, RULES, open_order=False)
    with_order = interpret(digits, RULES, open_order=True)
    assert readings(without_order) == readings(with_order)


# --- valid GS1 element strings round-trip -----------------------------------------------------------------


@dataclass(frozen=True)
class Gs1Case:
    raw: str
    code: str
    expected: ItemCode
    variable_values: tuple[str, ...]


def _gtin(draw: st.DrawFn) -> str:
    length = draw(st.sampled_from([8, 12, 13, 14]))
    payload = draw(st.text(alphabet="0123456789", min_size=length - 1, max_size=length - 1))
    return payload + str(gs1_standard_check_digit(payload))


def _expiry(draw: st.DrawFn) -> tuple[str, datetime.date] | None:
    if not draw(st.booleans()):
        return None
    day = draw(st.dates(min_value=datetime.date(2000, 1, 1), max_value=datetime.date(2069, 12, 31)))
    if draw(st.booleans()):  # DD=00: the last day of the month
        last = calendar.monthrange(day.year, day.month)[1]
        return day.strftime("%y%m") + "00", day.replace(day=last)
    return day.strftime("%y%m%d"), day


@st.composite
def gs1_cases(draw: st.DrawFn) -> Gs1Case:
    gtin = _gtin(draw)
    expiry = _expiry(draw)
    field = st.text(alphabet=_FIELD_CHARS, min_size=1, max_size=20)
    batch = draw(st.none() | field)
    serial = draw(st.none() | field)
    rest = [("17", expiry[0])] if expiry else []
    rest += [(ai, value) for ai, value in (("10", batch), ("21", serial)) if value is not None]
    elements = [("01", gtin.zfill(14)), *draw(st.permutations(rest))]
    expected = ItemCode(
        "",
        gtin.zfill(14),
        batch=batch,
        expiry=expiry[1] if expiry else None,
        serial=serial,
        is_gs1=True,
    )
    variable_values = tuple(value for value in (batch, serial) if value is not None)

    if draw(st.booleans()):
        raw = "".join(f"({ai}){value}" for ai, value in elements)
        return Gs1Case(raw, raw, expected, variable_values)

    separator = draw(st.sampled_from([GS, "<GS>", "^]"]))
    extra_separators = draw(st.booleans())  # GS after fixed-length fields is allowed too
    parts = []
    for index, (ai, value) in enumerate(elements):
        parts.append(ai + value)
        last = index == len(elements) - 1
        if not last and (ai in ("10", "21") or extra_separators):
            parts.append(separator)
    body = "".join(parts)
    aim = draw(st.sampled_from(["", "]C1", "]d2", "]Q3", "]e0"]))
    return Gs1Case(aim + body, body.replace(separator, GS), expected, variable_values)


@FUZZ
@given(gs1_cases(), st.booleans())
def test_valid_gs1_round_trips(case: Gs1Case, open_order: bool) -> None:
    reading = interpret(case.raw, RULES, open_order=open_order)
    assert_consistent(reading)
    if reading.problem == Problem.GS1_SEPARATOR_MISSING:
        # The content heuristic may only fire when a batch or serial itself looks like it holds a date or a
        # GTIN, which needs at least eight digits in a row (documented false-alarm case).
        assert any(re.search(r"\d{8}", value) for value in case.variable_values), case
        return
    assert reading.kind is CodeKind.ITEM, (case, reading)
    assert reading.item == ItemCode(
        case.code,
        case.expected.gtin14,
        batch=case.expected.batch,
        expiry=case.expected.expiry,
        serial=case.expected.serial,
        is_gs1=True,
    )


@FUZZ
@given(
    st.sampled_from(["10", "21"]),
    st.text(alphabet=_FIELD_CHARS, min_size=1, max_size=20),
    st.dates(min_value=datetime.date(2000, 1, 1), max_value=datetime.date(2069, 12, 31)),
    st.sampled_from(["", "21SN1", GS + "21SN1"]),
    st.sampled_from(["", "]C1", "]d2"]),
)
def test_a_swallowed_expiry_is_always_flagged(
    variable_ai: str, value: str, expiry: datetime.date, tail: str, aim: str
) -> None:
    if variable_ai == "21":
        tail = tail.replace("21SN1", "10LOT1")
    raw = aim + "01" + "09501101530003" + variable_ai + value + "17" + expiry.strftime("%y%m%d") + tail
    assert interpret(raw, RULES).problem == Problem.GS1_SEPARATOR_MISSING


@FUZZ
@given(st.text(alphabet=_FIELD_CHARS, min_size=1, max_size=20), st.booleans())
def test_a_swallowed_gtin_is_always_flagged(batch: str, with_serial: bool) -> None:
    raw = "]C1" + "10" + batch + "01" + "06901234567892" + ("21X" if with_serial else "")
    assert interpret(raw, RULES).problem == Problem.GS1_SEPARATOR_MISSING
