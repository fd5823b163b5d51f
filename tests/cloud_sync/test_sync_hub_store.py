"""The hub kit's store: idempotent on (station, epoch, seq), contiguous high-water mark, gaps, the hash chain,
conflicts, and the command queue — the behaviour the tests' oracle and hub teams rely on."""

import copy
import json
import os
from pathlib import Path

import pytest
from sync_harness import append_events, open_store

from cloud_sync.hub import HubStore, StreamKey
from cloud_sync.hub.__main__ import main as hub_main
from cloud_sync.wire import CmdAck, Rejection


@pytest.fixture
def station(tmp_path: Path):  # type: ignore[no-untyped-def]
    store = open_store(tmp_path / "station.db")
    append_events(store, 30)
    yield store
    store.close()


@pytest.fixture
def hub(tmp_path: Path):  # type: ignore[no-untyped-def]
    h = HubStore.open(tmp_path / "hub.db")
    yield h
    h.close()


def test_idempotent_ingest_and_high_water_mark(station, hub) -> None:  # type: ignore[no-untyped-def]
    ev = station.events_from(1, 100)
    (p,) = hub.ingest([("WH1", "ST01", ev[0:10])])
    assert (p.acked_through, p.stored, p.missing) == (10, 10, [])
    (p,) = hub.ingest([("WH1", "ST01", ev[20:25]), ("WH1", "ST01", ev[27:30])])
    assert (p.acked_through, p.missing) == (10, [(11, 20), (26, 27)])
    (p,) = hub.ingest([("WH1", "ST01", ev[5:27])], want_released=True)
    assert (p.acked_through, p.duplicates, p.missing) == (30, 10, [])
    assert [e["seq"] for e in p.released] == list(range(11, 31))
    (info,) = hub.streams()
    assert (info.events, info.acked_through, info.duplicates, info.chain_ok) == (30, 30, 10, True)
    assert hub.events(info.key, 1, 100) == ev


def test_streams_are_separate_per_station_and_epoch(station, hub) -> None:  # type: ignore[no-untyped-def]
    ev = station.events_from(1, 5)
    other = [dict(e, stream_epoch="another-epoch") for e in ev]
    progress = hub.ingest([("WH1", "ST01", ev), ("WH1", "ST02", ev), ("WH2", "ST01", other)])
    assert sorted((p.key.site, p.key.station, p.acked_through) for p in progress) == [
        ("WH1", "ST01", 5), ("WH1", "ST02", 5), ("WH2", "ST01", 5),
    ]  # fmt: skip


def test_tampered_event_breaks_the_chain_but_is_stored(station, hub) -> None:  # type: ignore[no-untyped-def]
    ev = station.events_from(1, 10)
    bad = copy.deepcopy(ev)
    bad[4]["data"]["n"] = 999
    (p,) = hub.ingest([("WH1", "ST01", bad)])
    assert p.acked_through == 10
    (info,) = hub.streams()
    assert (info.chain_ok, info.first_bad_seq, info.problem) == (False, 5, "hash_mismatch")


def test_reordered_chain_detected(station, hub) -> None:  # type: ignore[no-untyped-def]
    ev = station.events_from(1, 10)
    swapped = copy.deepcopy(ev)
    # Swap two events' content but keep seq numbers: each hash is internally fine, the links are not.
    swapped[3], swapped[4] = dict(ev[4], seq=4), dict(ev[3], seq=5)
    hub.ingest([("WH1", "ST01", swapped)])
    (info,) = hub.streams()
    assert not info.chain_ok
    assert info.first_bad_seq == 4


def test_conflicting_copy_is_kept_out(station, hub) -> None:  # type: ignore[no-untyped-def]
    ev = station.events_from(1, 3)
    hub.ingest([("WH1", "ST01", ev)])
    forged = dict(ev[1], hash="f" * 64)
    (p,) = hub.ingest([("WH1", "ST01", [forged])])
    assert p.conflicts == 1
    assert hub.events(p.key, 2, 1)[0]["hash"] == ev[1]["hash"]


def test_hub_store_survives_reopen(tmp_path: Path, station) -> None:  # type: ignore[no-untyped-def]
    ev = station.events_from(1, 30)
    h = HubStore.open(tmp_path / "h2.db")
    h.ingest([("WH1", "ST01", ev[:12])])
    h.close()
    h = HubStore.open(tmp_path / "h2.db")
    (p,) = h.ingest([("WH1", "ST01", ev[12:])])
    assert p.acked_through == 30
    (info,) = h.streams()
    assert info.chain_ok
    h.close()


def test_command_queue(hub) -> None:  # type: ignore[no-untyped-def]
    ids = [hub.enqueue_command("WH1", "ST01", "order.cancel", {"order_id": f"SO{i}"})[1] for i in range(4)]
    assert ids == [1, 2, 3, 4]
    assert hub.enqueue_command("WH1", "ST02", "order.cancel", {"order_id": "X"})[1] == 1
    due = hub.commands_due(resend_after_ms=60_000)
    assert [(c.station, c.cmd_seq) for c in due] == [("ST01", 1), ("ST01", 2), ("ST01", 3), ("ST01", 4), ("ST02", 1)]
    hub.mark_sent(due)
    assert hub.commands_due(resend_after_ms=60_000) == []
    assert len(hub.commands_due(resend_after_ms=-1)) == 5, "resend timer"
    second = next(c for c in due if c.cmd_seq == 2)
    hub.record_cmd_ack("WH1", "ST01", CmdAck(3, (Rejection(second.cmd_id, "unknown_order", 2),)))
    states = [(c["cmd_seq"], c["state"], c["reason"]) for c in hub.commands("WH1", "ST01")]
    assert states == [
        (1, "applied", None),
        (2, "rejected", "unknown_order"),
        (3, "applied", None),
        (4, "pending", None),
    ]
    assert [c.cmd_seq for c in hub.commands_due(resend_after_ms=-1) if c.station == "ST01"] == [4]
    # The station lost its bookkeeping: its birth says 1; everything above goes out again at once.
    hub.record_status("WH1", "ST01", {"state": "online", "cmd_applied_through": 1})
    assert [c.cmd_seq for c in hub.commands_due(resend_after_ms=60_000) if c.station == "ST01"] == [2, 3, 4]


def test_cli_send_and_report(tmp_path: Path, station, capsys) -> None:  # type: ignore[no-untyped-def]
    db = tmp_path / "cli.db"
    h = HubStore.open(db)
    h.ingest([("WH1", "ST01", station.events_from(1, 30))])
    h.close()
    assert hub_main(["send", "--db", str(db), "--site", "WH1", "--station", "ST01", "--type", "order.hold",
                     "--data", '{"order_id": "SO1", "reason": "check"}']) == 0  # fmt: skip
    assert json.loads(capsys.readouterr().out)["cmd_seq"] == 1
    assert hub_main(["report", "--db", str(db)]) == 0
    (row,) = json.loads(capsys.readouterr().out)
    assert (row["station"], row["acked_through"], row["events"], row["chain_ok"]) == ("ST01", 30, 30, True)


@pytest.mark.skipif(not os.environ.get("HUB_TEST_PG_DSN"), reason="set HUB_TEST_PG_DSN to test PostgreSQL storage")
def test_postgres_storage(station) -> None:  # type: ignore[no-untyped-def]
    h = HubStore.open(os.environ["HUB_TEST_PG_DSN"])
    ev = station.events_from(1, 30)
    (p,) = h.ingest([("WH1", "ST01", ev[10:])])
    assert (p.acked_through, p.missing) == (0, [(1, 10)])
    (p,) = h.ingest([("WH1", "ST01", ev[:12])], want_released=True)
    assert (p.acked_through, p.duplicates, len(p.released)) == (30, 2, 30)
    key = StreamKey("WH1", "ST01", station.stream_epoch)
    assert [e["seq"] for e in h.events(key, 1, 100)] == list(range(1, 31))
    info = next(i for i in h.streams() if i.key == key)
    assert (info.events, info.chain_ok, info.duplicates) == (30, True, 2)
    station_id = f"ST-{station.stream_epoch[-8:]}"  # a fresh station per run: the database outlives the test
    first = h.enqueue_command("WH1", station_id, "order.cancel", {"order_id": "SO1"})
    h.enqueue_command("WH1", station_id, "order.cancel", {"order_id": "SO2"})
    h.record_cmd_ack("WH1", station_id, CmdAck(2, (Rejection(first[0], "unknown_order", 1),)))
    assert [c["state"] for c in h.commands("WH1", station_id)] == ["rejected", "applied"]
    h.close()
