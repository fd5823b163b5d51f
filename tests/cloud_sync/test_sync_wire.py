"""What crosses a real Mosquitto, checked on the broker's side: `evt` messages delivered to the hub again
(replayed by another client, or resent by a station restarted from an older acked position) are stored once
and still acked; a `cmd` larger than the station's limit is refused on `cmd_ack` without blocking the commands
after it; a SIGKILLed station's will (retained `offline`), its client id and its CONNECT as sent on the wire."""

import gc
import json
import os
import sqlite3
import subprocess
import sys
import time
import warnings
from pathlib import Path

import pytest
from sync_harness import (
    REPO,
    SITE,
    STATION,
    AgentThread,
    Broker,
    HubThread,
    MemoryCommands,
    Probe,
    TcpProxy,
    append_events,
    assert_clean,
    counting_report,
    hub_has_all,
    open_store,
    parse_connect,
    running,
    sync_settings,
    wait_until,
)

from cloud_sync.doctor import check_broker
from cloud_sync.link import Connected, LinkEvent, MqttLink
from cloud_sync.settings import SyncSettings
from cloud_sync.wire import decode_events
from station.store import Store

P = f"wh/v1/{SITE}/{STATION}"
HERE = Path(__file__).parent


@pytest.fixture
def store(tmp_path: Path):  # type: ignore[no-untyped-def]
    s = open_store(tmp_path / "station.db")
    yield s
    s.close()


def _hub_duplicates(db: Path) -> int:
    conn = sqlite3.connect(db, timeout=10)
    try:
        (n,) = conn.execute("SELECT duplicates FROM hub_streams WHERE site=? AND station=?", [SITE, STATION]).fetchone()
    finally:
        conn.close()
    return int(n)


def test_replayed_evt_messages_are_stored_once_and_acked(tmp_path: Path, store: Store) -> None:
    broker = Broker(tmp_path / "mq").start()
    tap = Probe(broker.port, "evt-tap")
    tap.subscribe(f"{P}/evt")
    tap.subscribe(f"{P}/ack")
    replayer = Probe(broker.port, "evt-replayer")
    hub_db = tmp_path / "hub.db"
    hub = HubThread(broker.port, hub_db).start()
    append_events(store, 300)  # a backlog: it goes out in batches
    agent = AgentThread(sync_settings(broker.port, batch_max_events=40), store, MemoryCommands()).start()
    with running(broker, tap, replayer, hub, agent):
        wait_until(lambda: store.backlog() == 0, 20, "the backlog delivered")
        for _ in range(5):  # then live events one at a time: single envelopes
            append_events(store, 1, per_tx=1)
            head = store.last_seq()
            wait_until(lambda h=head: agent.health()["acked_through"] == h, 10, "a single event acked")
        delivered = [p for t, p, _ in list(tap.messages) if t == f"{P}/evt"]
        docs = [json.loads(p) for p in delivered]
        assert sum(1 for d in docs if "seq" in d) >= 5, "single envelopes were sent"
        assert sum(1 for d in docs if "events" in d) >= 2, "batches were sent"
        n_events = sum(len(decode_events(p)) for p in delivered)
        assert n_events >= store.last_seq()
        assert hub.consumer is not None
        stats = hub.consumer.stats
        stored, dups, acks_before = stats.stored, stats.duplicates, len(tap.on(f"{P}/ack"))
        c_before = agent.health()["counters"]
        assert stored == store.last_seq()

        # Every message again, in order and then backwards, as a broker or a bridge might redeliver them.
        for payload in delivered:
            replayer.publish(f"{P}/evt", payload)
        wait_until(lambda: stats.duplicates - dups >= n_events, 10, "the hub saw the replay")
        for payload in reversed(delivered):
            replayer.publish(f"{P}/evt", payload)
        wait_until(lambda: stats.duplicates - dups >= 2 * n_events, 10, "the hub saw the reversed replay")
        assert stats.stored == stored, "nothing stored twice"
        assert stats.conflicts == 0
        assert _hub_duplicates(hub_db) >= 2 * n_events

        # The hub acks every delivery, duplicates included, with the same high-water mark and no gaps.
        last = store.last_seq()
        wait_until(lambda: len(tap.on(f"{P}/ack")) > acks_before, 5, "acks for the replayed messages")
        time.sleep(0.3)
        replay_acks = tap.on(f"{P}/ack")[acks_before:]
        assert {(a["acked_through"], a["stream_epoch"]) for a in replay_acks} == {(last, store.stream_epoch)}
        assert not any(a.get("missing") for a in replay_acks)
        h = agent.health()
        assert (h["acked_through"], h["backlog"]) == (last, 0)
        assert h["counters"]["duplicate_acks"] > c_before["duplicate_acks"], "the station got (and ignored) them"
        assert sum(h["rejected"]["ack"].values()) == 0

        # The stream goes on after the replay.
        append_events(store, 50, per_tx=5)
        wait_until(hub_has_all(hub_db, store), 20, "delivery after the replay")
        wait_until(lambda: store.backlog() == 0, 10, "acks after the replay")
        assert_clean(counting_report("evt_replayed_single_and_batched", store, hub_db, hub.released))


def test_station_restarted_from_an_older_acked_position(tmp_path: Path, store: Store) -> None:
    broker = Broker(tmp_path / "mq").start()
    hub_db = tmp_path / "hub.db"
    hub = HubThread(broker.port, hub_db).start()
    append_events(store, 600)
    settings = sync_settings(broker.port, batch_max_events=50)
    first = AgentThread(settings, store, MemoryCommands()).start()
    with running(broker, hub, first):
        wait_until(lambda: store.backlog() == 0, 20, "first delivery")
        first.stop()
        assert hub.consumer is not None
        stored, dups = hub.consumer.stats.stored, hub.consumer.stats.duplicates
        # The station lost its record of the last acks (e.g. restored from an older copy): 101..600 go again.
        conn = sqlite3.connect(tmp_path / "station.db", timeout=10)
        with conn:
            conn.execute("UPDATE meta SET value = '100' WHERE key = 'outbox.acked_through'")
        conn.close()
        assert store.backlog() == 500
        append_events(store, 20)
        second = AgentThread(settings, store, MemoryCommands()).start()
        with running(second):
            wait_until(lambda: store.backlog() == 0, 20, "the resend acked")
            h = second.health()
            assert h["acked_through"] == 620
            assert h["counters"]["events"] >= 520, "the station sent 101..620 again"
        assert hub.consumer.stats.duplicates - dups == 500, "each resent event was recognised as a duplicate"
        assert hub.consumer.stats.stored - stored == 20, "only the new events were stored"
        assert_clean(counting_report("station_restarted_from_older_ack", store, hub_db, hub.released))


def test_oversized_command_is_refused_and_the_next_ones_apply(tmp_path: Path, store: Store) -> None:
    broker = Broker(tmp_path / "mq").start()
    probe = Probe(broker.port)
    probe.subscribe(f"{P}/cmd_ack")
    hub = HubThread(broker.port, tmp_path / "hub.db").start()
    commands = MemoryCommands()
    settings = sync_settings(broker.port)
    limit = settings.max_command_bytes
    assert limit == SyncSettings().max_command_bytes, "the station's default limit"
    agent = AgentThread(settings, store, commands).start()
    order = {"order_id": "SO1", "version": 1, "lines": [{"line_no": 1, "sku": "A", "qty": 1}]}
    with running(probe, hub, agent, broker):
        assert hub.consumer is not None
        assert hub.store is not None
        hub.consumer.send_command(SITE, STATION, "order.upsert", order, cmd_id="small-1")
        big = {**order, "order_id": "SO2", "notes": "x" * (limit + 1000)}
        hub.consumer.send_command(SITE, STATION, "order.upsert", big, cmd_id="big-2")
        hub.consumer.send_command(SITE, STATION, "order.cancel", {"order_id": "SO1"}, cmd_id="after-3")
        wait_until(lambda: agent.health()["cmd_applied_through"] == 3, 10, "the commands after the big one")
        assert [c.cmd_id for c in commands.applied] == ["small-1", "after-3"], "the oversized one never applied"
        record = commands.cmd_record("big-2")
        assert record is not None
        assert (record.cmd_seq, record.applied, record.reason) == (2, False, "oversized")

        def rejections() -> list[dict[str, object]]:
            return [r for a in probe.on(f"{P}/cmd_ack") for r in a["rejected"]]

        wait_until(lambda: any(r["cmd_id"] == "big-2" for r in rejections()), 5, "the refusal on cmd_ack")
        # (A repeat of the command, if the hub resent it before our cmd_ack, is answered from the record.)
        refusals = [r for r in rejections() if r["cmd_id"] == "big-2"]
        assert {(r["reason"], r["cmd_seq"]) for r in refusals} == {("oversized", 2)}
        assert f"> {limit}" in str(refusals[0]["detail"])
        hub_store = hub.store
        wait_until(lambda: hub_store.commands(SITE, STATION)[-1]["state"] != "pending", 10, "the hub saw it")
        assert [(c["cmd_id"], c["state"], c["reason"]) for c in hub_store.commands(SITE, STATION)] == [
            ("small-1", "applied", None), ("big-2", "rejected", "oversized"), ("after-3", "applied", None)
        ]  # fmt: skip

        # Oversized with its id beyond what the station reads of it: refused with cmd_id null, no place taken.
        anonymous = json.dumps({"data": {"order_id": "SO3", "pad": "y" * limit}, "cmd_id": "late-4",
                                "cmd_seq": 4, "type": "order.cancel"}).encode()  # fmt: skip
        before = len(probe.on(f"{P}/cmd_ack"))
        probe.publish(f"{P}/cmd", anonymous)

        def anonymous_acks() -> list[dict[str, object]]:
            return [a for a in probe.on(f"{P}/cmd_ack")[before:] if any(r["cmd_id"] is None for r in a["rejected"])]

        wait_until(lambda: bool(anonymous_acks()), 5, "cmd_ack for the anonymous one")
        (ack,) = anonymous_acks()
        refusal_doc = {"cmd_id": None, "reason": "oversized", "detail": f"{len(anonymous)} bytes > {limit}"}
        assert ack == {"applied_through": 3, "rejected": [refusal_doc]}
        assert commands.cmd_record("late-4") is None
        hub.consumer.send_command(SITE, STATION, "order.hold", {"order_id": "SO1", "reason": "x"}, cmd_id="next-4")
        wait_until(lambda: agent.health()["cmd_applied_through"] == 4, 10, "the station still applies commands")
        assert [c.cmd_id for c in commands.applied] == ["small-1", "after-3", "next-4"]
        h = agent.health()
        assert h["rejected"]["cmd"]["oversized"] >= 2
        assert h["broker_connected"] is True


def test_sigkilled_station_leaves_its_will_and_connected_as_configured(tmp_path: Path) -> None:
    broker = Broker(tmp_path / "mq", extra="connection_messages true").start()
    proxy = TcpProxy(broker.port, capture=True)  # records what the station sends, byte for byte
    watcher = Probe(broker.port, "status-watcher")
    watcher.subscribe(f"{P}/status")
    hub = HubThread(broker.port, tmp_path / "hub.db").start()
    db, cmds = tmp_path / "station.db", tmp_path / "cmds.db"
    args = [sys.executable, str(HERE / "sync_station_child.py"), str(db), str(cmds), str(proxy.port), "30"]
    child = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, cwd=REPO)
    with running(broker, proxy, watcher, hub):
        try:
            assert child.stdout is not None
            assert child.stdout.readline().strip() == b"ready"
            wait_until(lambda: any(s["state"] == "online" for s in watcher.on(f"{P}/status")), 10, "birth")
            wait_until(lambda: _hub_acked_through(tmp_path / "hub.db") >= 30, 10, "the child's events delivered")
            child.kill()
            child.wait(10)
            killed_at = time.monotonic()
        finally:
            if child.poll() is None:
                child.kill()
                child.wait(10)
            if child.stdout is not None:
                child.stdout.close()

        # The broker, not the station, publishes the will: retained `offline`, after the will delay.
        wait_until(lambda: watcher.on(f"{P}/status")[-1]["state"] == "offline", 15, "the will")
        will_after_s = time.monotonic() - killed_at
        offline = watcher.on(f"{P}/status")[-1]
        assert offline["reason"] == "connection_lost"
        assert offline["stream_epoch"] == _station_epoch(db)
        assert will_after_s >= 3, "the will waits for its delay (a quick reconnect must not flap)"
        late = Probe(broker.port, "late-subscriber")
        with running(late):
            late.subscribe(f"{P}/status")
            wait_until(lambda: bool(late.messages), 5, "the retained status")
            topic, payload, retained = late.messages[0]
            assert (topic, retained, json.loads(payload)["state"]) == (f"{P}/status", True, "offline")

        # What the station sent first, as the broker read it.
        connect = parse_connect(proxy.captured[0])
        configured = sync_settings(proxy.port)
        assert connect["client_id"] == f"{SITE}-{STATION}"
        assert (connect["protocol"], connect["level"], connect["clean_start"]) == ("MQTT", 5, False)
        assert connect["keepalive_s"] == configured.keepalive_s
        assert connect["properties"]["SessionExpiryInterval"] == configured.session_expiry_s
        will = connect["will"]
        assert will is not None
        assert (will["topic"], will["qos"], will["retain"]) == (f"{P}/status", 1, True)
        assert will["properties"]["WillDelayInterval"] == 5
        assert (will["payload"]["state"], will["payload"]["reason"]) == ("offline", "connection_lost")
        # And as the broker logged it: same client id, MQTT 5 (p5), no clean start (c0).
        log = broker.log.read_text()
        assert f"as {SITE}-{STATION} (p5, c0, k{configured.keepalive_s})" in log, log


def _hub_acked_through(db: Path) -> int:
    conn = sqlite3.connect(db, timeout=10)
    try:
        row = conn.execute("SELECT max(acked_through) FROM hub_streams WHERE site=? AND station=?",
                           [SITE, STATION]).fetchone()  # fmt: skip
    except sqlite3.OperationalError:
        row = None
    finally:
        conn.close()
    return int(row[0]) if row and row[0] is not None else 0


def _station_epoch(db: Path) -> str:
    conn = sqlite3.connect(db, timeout=10)
    try:
        (epoch,) = conn.execute("SELECT value FROM meta WHERE key = 'stream_epoch'").fetchone()
    finally:
        conn.close()
    return str(epoch)


def _open_fds() -> int:
    return len(os.listdir("/proc/self/fd"))


def test_stopped_clients_leave_no_socket_behind(tmp_path: Path) -> None:
    # paho's loop_start() opens a loopback socket pair (both ends in this process) that only Client.__del__
    # closes. Our clients sit in reference cycles, so the garbage collector frees them late and finalises the
    # sockets first: "unclosed socket" ResourceWarnings in whichever test runs the collector, and two
    # descriptors per link restart until then.
    broker = Broker(tmp_path / "mq").start()
    with running(broker):
        gc.collect()
        gc.disable()  # what is not closed explicitly stays open, visibly
        try:
            before = _open_fds()
            for _ in range(3):
                events: list[LinkEvent] = []
                link = MqttLink(sync_settings(broker.port), client_id=f"{SITE}-{STATION}", will=(f"{P}/status", b"{}"),
                                post=events.append)  # fmt: skip
                link.connect()
                wait_until(lambda ev=events: any(isinstance(e, Connected) for e in ev), 5, "CONNACK")
                link.close()
                HubThread(broker.port, tmp_path / "hub.db").start().stop()
                assert check_broker(sync_settings(broker.port), site=SITE, station_id=STATION, timeout_s=2)["reachable"]
            leaked = _open_fds() - before
        finally:
            gc.enable()
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            gc.collect()
        assert leaked == 0, f"{leaked} descriptors left open by stopped MQTT clients"
        assert [str(w.message) for w in caught if issubclass(w.category, ResourceWarning)] == []
