"""A station that ran on a clock from the future: event time stays ahead (it never runs backwards), so the
`clock_ahead` alert and `station doctor` say so once the wall clock is known to be right."""

from pathlib import Path

from benchkit import FakeClock

from station.alerts.monitor import AlertMonitor, active_alerts
from station.clock import MAX_EVENT_CLOCK_LEAD_MS, SyncState
from station.doctor import _event_time_finding
from station.events import SYSTEM, NewEvent
from station.priority.rules import PrioritySettings
from station.store import Store

HOUR_MS = 3_600_000


class FixedSync(SyncState):
    """A kernel verdict on the wall clock that the test sets."""

    def __init__(self, synced: bool) -> None:
        super().__init__()
        self.synced = synced

    def is_synced(self) -> bool:
        return self.synced


def _clock_alerts(store: Store) -> list[dict[str, object]]:
    return [a for a in active_alerts(store) if a["alert"] == "clock_ahead"]


def test_clock_ahead_is_raised_only_against_a_synchronised_clock_and_cleared_when_time_catches_up(
    tmp_path: Path,
) -> None:
    wall, sync = FakeClock(), FixedSync(synced=False)
    store = Store.open(tmp_path / "station.db", wall_ms=wall, sync_state=sync, boot_id="b")
    with store.transaction() as tx:  # written while the wall clock said one hour later than it does now
        wall.ms += HOUR_MS
        tx.append(NewEvent("test.event", SYSTEM))
    wall.ms -= HOUR_MS
    monitor = AlertMonitor(store, PrioritySettings())
    monitor.tick()
    assert _clock_alerts(store) == []  # not synchronised: the wall clock may be the wrong one
    sync.synced = True
    monitor.tick()
    [alert] = _clock_alerts(store)
    assert alert["data"] == {"alert": "clock_ahead", "subject": "", "ahead_min": 60}
    wall.ms += HOUR_MS - MAX_EVENT_CLOCK_LEAD_MS + 1  # real time has almost caught up
    monitor.tick()
    assert _clock_alerts(store) == []
    store.close()


def test_a_short_lead_is_no_alert(tmp_path: Path) -> None:
    wall = FakeClock()
    store = Store.open(tmp_path / "station.db", wall_ms=wall, sync_state=FixedSync(synced=True), boot_id="b")
    with store.transaction() as tx:
        wall.ms += MAX_EVENT_CLOCK_LEAD_MS
        tx.append(NewEvent("test.event", SYSTEM))
    wall.ms -= MAX_EVENT_CLOCK_LEAD_MS  # an NTP step back: event time leads, within the allowance
    AlertMonitor(store, PrioritySettings()).tick()
    assert _clock_alerts(store) == []
    store.close()


def test_the_doctor_tells_which_clock_is_wrong() -> None:
    assert _event_time_finding(MAX_EVENT_CLOCK_LEAD_MS, clock_synced=True).ok
    behind = _event_time_finding(90 * 24 * HOUR_MS, clock_synced=False)
    assert behind.ok
    assert "probably behind" in behind.text
    ahead = _event_time_finding(2 * HOUR_MS, clock_synced=True)
    assert not ahead.ok
    assert "120 min ahead" in ahead.text
    assert "clock from the future" in ahead.text
