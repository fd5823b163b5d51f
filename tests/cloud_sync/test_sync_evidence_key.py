"""The station announces its evidence key in every birth; the hub pins the first it sees and flags a change."""

from pathlib import Path

from sync_harness import (
    SITE,
    STATION,
    AgentThread,
    Broker,
    HubThread,
    MemoryCommands,
    open_store,
    sync_settings,
    wait_until,
)

from cloud_sync.hub import HubStore
from station.video.evidence import key_fingerprint, public_key_pem
from station.video.key_file import recorded_fingerprint

KEY_A = "sha256:" + "a" * 64
KEY_B = "sha256:" + "b" * 64


def test_the_hub_pins_the_first_key_and_records_another(tmp_path: Path) -> None:
    store = HubStore.open(tmp_path / "hub.db")
    online = {"state": "online", "boot_id": "b", "cmd_applied_through": 0}
    store.record_status(SITE, STATION, online | {"evidence_key": KEY_A})
    store.record_status(SITE, STATION, online | {"evidence_key": KEY_A})
    assert store.evidence_key(SITE, STATION) == (KEY_A, [])
    store.record_status(SITE, STATION, online | {"evidence_key": KEY_B})
    store.record_status(SITE, STATION, online | {"evidence_key": KEY_B})  # every minute: recorded once
    store.record_status(SITE, STATION, online | {"evidence_key": "not a key"})  # ignored
    assert store.evidence_key(SITE, STATION) == (KEY_A, [KEY_B])  # never adopted
    store.close()


def test_a_station_announces_its_key_and_the_hub_pins_it(tmp_path: Path) -> None:
    broker = Broker(tmp_path / "broker").start()
    hub = HubThread(broker.port, tmp_path / "hub.db").start()
    store = open_store(tmp_path / "station.db")
    try:
        agent = AgentThread(sync_settings(broker.port), store, MemoryCommands(), evidence_key=KEY_A).start()
        assert hub.store is not None
        wait_until(lambda: hub.store is not None and hub.store.evidence_key(SITE, STATION)[0] == KEY_A, 20, "pinned")
        agent.stop()
        again = AgentThread(sync_settings(broker.port), store, MemoryCommands(), evidence_key=KEY_B).start()
        wait_until(lambda: hub.store is not None and hub.store.evidence_key(SITE, STATION)[1] == [KEY_B], 20, "flagged")
        again.stop()
    finally:
        hub.stop()
        broker.stop()
        store.close()


def test_the_station_records_its_fingerprint_beside_its_key(tmp_path: Path) -> None:
    assert recorded_fingerprint(tmp_path) is None  # no key yet: nothing announced
    public = public_key_pem(tmp_path)  # makes the key
    assert recorded_fingerprint(tmp_path) == key_fingerprint(public)
