"""Event time never runs backwards: not within a run, not across a reboot with the wall clock behind."""

import itertools
from pathlib import Path

from hypothesis import given
from hypothesis import strategies as st

from station.clock import Hlc, HybridLogicalClock, SyncState
from station.events import SYSTEM, NewEvent
from station.ids import uuid7
from station.store import Store


@given(st.lists(st.integers(min_value=0, max_value=2**45), min_size=1, max_size=200))
def test_hlc_is_strictly_increasing_whatever_the_wall_does(walls: list[int]) -> None:
    it = iter(walls)
    clock = HybridLogicalClock(lambda: next(it))
    issued = [clock.tick()[0] for _ in walls]
    assert all(a < b for a, b in itertools.pairwise(issued))
    assert all(h.ms >= w for h, w in zip(issued, walls, strict=True))


def test_wall_clock_jumped_back_one_hour_after_reboot(tmp_path: Path) -> None:
    wall = [1_770_000_000_000]
    path = tmp_path / "s.db"
    store = Store.open(path, wall_ms=lambda: wall[0])
    with store.transaction() as tx:
        before = tx.append(NewEvent("test.event", SYSTEM))["at"]
    store.close()
    wall[0] -= 3_600_000  # reboot without RTC: the wall clock is an hour behind
    store = Store.open(path, wall_ms=lambda: wall[0])
    with store.transaction() as tx:
        after = tx.append(NewEvent("test.event", SYSTEM))
    assert (after["at"]["ms"], after["at"]["counter"]) > (before["ms"], before["counter"])
    assert after["wall_raw"] == wall[0]  # the raw wall reading is kept for the hub to see
    store.close()


def test_restore_never_moves_back() -> None:
    clock = HybridLogicalClock(lambda: 5, Hlc(100, 3))
    clock.restore(Hlc(50, 0))
    assert clock.last == Hlc(100, 3)
    assert clock.tick()[0] == Hlc(100, 4)


def test_uuid7_layout_and_order() -> None:
    a, b = uuid7(1_000), uuid7(2_000)
    assert a.version == 7
    assert a.variant == "specified in RFC 4122"
    assert int(a.hex[:12], 16) == 1_000
    assert a < b


def test_sync_state_answers_a_bool() -> None:
    assert SyncState().is_synced() in (True, False)
