"""Bad input at the bench: any byte string (or text) a scanner or the API hands over ends as an outcome.

Junk is fed through `BenchWorkflow.handle_scan` in several bench states. For every read: no exception escapes;
a scan that is not accepted is a refusal with a reason, recorded as a `scan.rejected` event carrying that
reason and a bounded copy of the code; the station never answers `internal_error`; seq stays gapless and the
hash chain verifies.
"""

import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from benchkit import FEEDER_UNIT, FOOD, GIFT, HUB, Bench, FakeClock, make_bench
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from station.events import Actor, EventType, verify_chain
from station.orders.actions import perform_action
from station.orders.intake import cancel_order
from station.orders.lifecycle import Action
from station.orders.model import Feedback, Status
from station.store import Store
from station.workflow.bench import MAX_CODE_IN_EVENT

FUZZ = settings(
    max_examples=120,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)

VALID_CODES = [
    "OP-001",
    "SV-001",
    "SO20260205-8821",
    "SF1234567890123",
    FEEDER_UNIT,
    GIFT,
    FOOD,
    "CMD:COMPLETE",
    "CMD:QTY:2",
    "CMD:BATCH:SF",
]
SQL_LOOKING = [
    "'; DROP TABLE events; --",
    "SO20260205-8821' OR '1'='1",
    '" OR 1=1 --',
    "OP-001'); DELETE FROM orders; --",
    "1; UPDATE orders SET status='packed'",
    "%' UNION SELECT hash FROM events --",
    "CMD:QTY:1 OR 1=1",
    "CMD:HOLD:'); DROP TABLE benches;--",
    "\\x00' || char(0) || '",
]
CONTROL = st.sampled_from(["\x00", "\x04", "\x1b", "\x1d", "\x7f", "\r", "\n", "\t", "\x85", "\u200b", "\ufeff"])

# Byte strings: anything (mostly invalid UTF-8), up to 10 KB of junk, valid and SQL-looking codes with junk
# spliced in, valid codes with control characters.
_BYTES = st.one_of(
    st.binary(max_size=64),
    st.binary(min_size=9_000, max_size=10_240),
    st.integers(0, 255).flatmap(lambda b: st.integers(1, 10_240).map(lambda n: bytes([b]) * n)),
    st.tuples(st.sampled_from(VALID_CODES + SQL_LOOKING), st.binary(max_size=16)).map(lambda t: t[0].encode() + t[1]),
    st.sampled_from(SQL_LOOKING).map(str.encode),
    st.tuples(st.sampled_from(VALID_CODES), CONTROL).map(lambda t: (t[0] + t[1] + t[0]).encode()),
)
# Text, as the HTTP API passes it: any code points, lone surrogates included (JSON may carry "\ud800").
_TEXT = st.one_of(
    st.text(st.characters(codec=None, exclude_categories=()), max_size=64),
    st.text(max_size=64).map(lambda s: s + "\ud800"),
    st.text(min_size=10_000, max_size=10_240, alphabet=st.characters(max_codepoint=0x2FFF)),
    st.sampled_from(SQL_LOOKING),
    st.tuples(st.sampled_from(VALID_CODES), CONTROL).map(lambda t: t[0] + t[1]),
)
RAW = st.one_of(_BYTES, _TEXT)


def _packing(bench: Bench) -> None:
    bench.login_and_open()


def _qty_armed(bench: Bench) -> None:
    bench.login_and_open()
    assert bench.scan("CMD:QTY:2").accepted


def _packed(bench: Bench) -> None:
    bench.login_and_open()
    for code in (FEEDER_UNIT, GIFT, FOOD, FOOD):
        assert bench.scan(code).accepted
    _assert_status(bench, Status.PACKED)


def _reopen_armed(bench: Bench) -> None:
    _packed(bench)
    assert bench.scan("CMD:REOPEN").feedback is Feedback.NEEDS_SUPERVISOR


def _held_by_supervisor(bench: Bench) -> None:
    bench.login_and_open()
    assert perform_action(bench.store, "SO20260205-8821", Action.HOLD, Actor("supervisor", "sv"), reason="t").ok


def _cancelled_on_bench(bench: Bench) -> None:
    bench.login_and_open()
    assert bench.scan(GIFT).accepted
    assert cancel_order(bench.store, "SO20260205-8821", "customer", HUB).ok


def _dock(bench: Bench) -> None:
    _packed(bench)
    assert bench.scan("SF1234567890123").accepted  # labeled (no printer configured)
    assert bench.scan("CMD:BATCH:SF").accepted


def _assert_status(bench: Bench, status: Status) -> None:
    with bench.store.reading() as repo:
        order = repo.order("SO20260205-8821")
    assert order is not None
    assert order.status is status


STATES: dict[str, Callable[[Bench], None]] = {
    "logged_out": lambda _bench: None,
    "logged_in": lambda bench: None if bench.scan("OP-001").accepted else pytest.fail("login"),
    "packing": _packing,
    "qty_armed": _qty_armed,
    "packed": _packed,
    "reopen_armed": _reopen_armed,
    "held_by_supervisor": _held_by_supervisor,
    "cancelled_on_bench": _cancelled_on_bench,
    "dock_batch_open": _dock,
}


@contextmanager
def _bench_in(state: str) -> Iterator[Bench]:
    # One station per state rather than per example: hypothesis examples reuse it (a fresh SQLite file per
    # example would make the test slow without testing more). Junk is refused, so the state holds.
    with tempfile.TemporaryDirectory() as tmp:
        clock = FakeClock()
        store = Store.open(Path(tmp) / "station.db", wall_ms=clock, boot_id="fuzz")
        try:
            bench = make_bench(store, clock)
            STATES[state](bench)
            yield bench
        finally:
            store.close()


def _check_one(bench: Bench, raw: bytes | str) -> None:
    before = bench.store.last_seq()
    outcome = bench.scan(raw)  # advances the monotonic clock: never a bounce
    assert outcome.outcome in ("accepted", "refused"), outcome
    assert outcome.reason != "internal_error", outcome
    after = bench.store.last_seq()
    if outcome.accepted:
        assert outcome.reason is None
        return
    assert outcome.reason, outcome
    assert outcome.feedback is not Feedback.NONE
    assert outcome.seq is not None
    assert before < outcome.seq <= after, (before, outcome.seq, after)
    (event,) = bench.store.events_from(outcome.seq, limit=1)
    assert event["type"] == EventType.SCAN_REJECTED
    assert event["data"]["reason"] == outcome.reason
    assert event["actor"]["bench"] == "B01"
    code = str(event["data"].get("code", ""))
    assert len(code) <= MAX_CODE_IN_EVENT


def _assert_log_sound(store: Store) -> None:
    events = store.events_from(1, 1_000_000)
    assert [e["seq"] for e in events] == list(range(1, len(events) + 1))
    report = verify_chain(events, store.stream_epoch)
    assert report.ok, report


@pytest.mark.parametrize("state", list(STATES))
def test_junk_scans_end_as_recorded_refusals(state: str) -> None:
    with _bench_in(state) as bench:

        @FUZZ
        @given(raw=RAW)
        def scan_junk(raw: bytes | str) -> None:
            _check_one(bench, raw)

        scan_junk()
        _assert_log_sound(bench.store)


@pytest.mark.parametrize("state", ["logged_out", "packing", "dock_batch_open"])
def test_sequences_of_junk_keep_the_log_sound(state: str) -> None:
    """Runs of junk mixed with valid codes, the log checked after each run (not only at the end)."""
    with _bench_in(state) as bench:

        @settings(FUZZ, max_examples=30)
        @given(raws=st.lists(st.one_of(RAW, st.sampled_from(VALID_CODES)), min_size=1, max_size=12))
        def scan_run(raws: list[bytes | str]) -> None:
            for raw in raws:
                _check_one(bench, raw)
            _assert_log_sound(bench.store)

        scan_run()


def test_lone_surrogate_in_text_is_recorded_not_an_internal_error(store: Store, clock: FakeClock) -> None:
    """Regression: a `str` with a surrogate outside the surrogateescape range used to fail while recording."""
    bench = make_bench(store, clock)
    outcome = bench.scan("OP-001\ud800")
    assert (outcome.outcome, outcome.reason) == ("refused", "invalid_utf8")
    (event,) = store.events_from(outcome.seq or 0, limit=1)
    assert event["data"]["code"].startswith("hex:")
    assert event["data"]["reason"] == "invalid_utf8"
