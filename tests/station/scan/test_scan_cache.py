"""`ReadingCache`: the same readings as `interpret`, remembered within bounds, forgotten on a new day."""

import datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from station.scan import CodeKind, ReadingCache, ScanRules, interpret
from station.scan import cache as cache_module

RULES = ScanRules()
_READS = st.binary(max_size=160) | st.text(max_size=160) | st.sampled_from(["OP-001", "CMD:COMPLETE", "6901234567892"])


@settings(deadline=None, max_examples=300)
@given(reads=st.lists(st.tuples(_READS, st.booleans()), max_size=20))
def test_a_remembered_reading_is_the_reading(reads: list[tuple[bytes | str, bool]]) -> None:
    cache = ReadingCache(RULES)
    for raw, open_order in reads + reads:  # the second pass answers from the cache
        assert cache.interpret(raw, open_order=open_order) == interpret(raw, RULES, open_order=open_order)


@pytest.fixture
def counted(monkeypatch: pytest.MonkeyPatch) -> list[object]:
    calls: list[object] = []

    def counting(raw: bytes | str, rules: ScanRules, *, open_order: bool = False) -> object:
        calls.append(raw)
        return interpret(raw, rules, open_order=open_order)

    monkeypatch.setattr(cache_module, "interpret", counting)
    return calls


def test_a_code_is_interpreted_once_per_context(counted: list[object]) -> None:
    cache = ReadingCache(RULES)
    for _ in range(3):
        assert cache.interpret("6901234567892", open_order=True).kind is CodeKind.ITEM
        cache.interpret(b"6901234567892", open_order=True)
        cache.interpret("6901234567892", open_order=False)
    assert len(counted) == 3


def test_junk_and_long_reads_are_never_remembered(counted: list[object]) -> None:
    cache = ReadingCache(RULES)
    long_read = "A" * (cache_module.CACHEABLE_LENGTH + 1)
    for raw in (long_read, long_read, bytearray(b"OP-001"), bytearray(b"OP-001")):
        cache.interpret(raw, open_order=False)  # type: ignore[arg-type]
    assert len(counted) == 4


def test_the_oldest_reading_is_forgotten_at_the_bound(counted: list[object]) -> None:
    cache = ReadingCache(RULES)
    codes = [f"SKU-{n:05d}" for n in range(cache_module.CACHE_SIZE + 1)]
    for code in codes:
        cache.interpret(code, open_order=True)
    cache.interpret(codes[-1], open_order=True)  # still remembered
    cache.interpret(codes[0], open_order=True)  # forgotten when the bound was reached
    assert len(counted) == len(codes) + 1


def test_a_new_day_forgets_everything(counted: list[object]) -> None:
    today = [datetime.date(2026, 12, 31)]
    cache = ReadingCache(RULES, today=lambda: today[0])
    cache.interpret("]C1010690123456789217991231", open_order=True)
    today[0] = datetime.date(2027, 1, 1)
    reading = cache.interpret("]C1010690123456789217991231", open_order=True)
    assert len(counted) == 2
    assert reading.item is not None
    assert reading.item.expiry is not None
