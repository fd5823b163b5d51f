"""Fault tests against a real Mosquitto, the real station Store and the hub kit as oracle. Each ends with a
counting report — expected, delivered, duplicates after dedup, missing, misordered — where only the first two
may be non-zero (and must be equal)."""

import json
import random
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from sync_harness import (
    REPO,
    SITE,
    STATION,
    AgentThread,
    Broker,
    HubProcess,
    HubThread,
    MemoryCommands,
    Probe,
    Producer,
    TcpProxy,
    append_events,
    assert_clean,
    counting_report,
    hub_has_all,
    open_store,
    running,
    sync_settings,
    wait_until,
)

from cloud_sync.hub import HubFaults
from station.store import Store

P = f"wh/v1/{SITE}/{STATION}"
HERE = Path(__file__).parent


@pytest.fixture
def store(tmp_path: Path):  # type: ignore[no-untyped-def]
    s = open_store(tmp_path / "station.db")
    yield s
    s.close()


@pytest.mark.parametrize("persistence", [False, True], ids=["no-persistence", "persistence"])
def test_broker_killed_and_restarted_mid_stream(tmp_path: Path, store: Store, persistence: bool) -> None:
    broker = Broker(tmp_path / "mq", persistence=persistence).start()
    hub = HubThread(broker.port, tmp_path / "hub.db").start()
    agent = AgentThread(sync_settings(broker.port), store, MemoryCommands()).start()
    producer = Producer(store, 1500).start()
    with running(broker, hub, agent, producer):
        wait_until(lambda: agent.health()["acked_through"] > 100, 10, "stream flowing")
        broker.kill()
        time.sleep(0.8)
        assert agent.health()["broker_connected"] is False
        broker.start()
        producer.join()
        wait_until(hub_has_all(tmp_path / "hub.db", store), 30, "delivery after the broker came back")
        assert agent.health()["link_restarts"] >= 1
        name = f"broker_sigkill_restart_{'persistent' if persistence else 'volatile'}"
        assert_clean(counting_report(name, store, tmp_path / "hub.db", hub.released))


@pytest.mark.slow
def test_long_backlog_drains_after_the_broker_comes_up(tmp_path: Path, store: Store) -> None:
    broker = Broker(tmp_path / "mq", extra="max_inflight_messages 10")
    agent = AgentThread(sync_settings(broker.port), store, MemoryCommands()).start()
    with running(agent):
        append_events(store, 20_000, per_tx=1000)
        assert agent.health()["backlog"] == 20_000
        broker.start()
        hub = HubThread(broker.port, tmp_path / "hub.db").start()
        with running(broker, hub):
            started = time.monotonic()
            wait_until(hub_has_all(tmp_path / "hub.db", store), 60, "20,000-event backlog")
            wait_until(lambda: agent.health()["backlog"] == 0, 10, "station saw the acks")
            h = agent.health()
            print(f"drained 20,000 events in {time.monotonic() - started:.2f} s; counters {h['counters']}")
            assert h["window"] == 10
            assert h["counters"]["max_inflight_seen"] <= 10
            assert_clean(counting_report("backlog_20000_after_broker_down", store, tmp_path / "hub.db", hub.released))


def _hub_acked(db: Path, epoch: str) -> int:
    conn = sqlite3.connect(db, timeout=10)
    try:
        row = conn.execute(
            "SELECT acked_through FROM hub_streams WHERE site=? AND station=? AND stream_epoch=?",
            [SITE, STATION, epoch],
        ).fetchone()
    except sqlite3.OperationalError:
        row = None
    conn.close()
    return 0 if row is None else int(row[0])


def _station_done(db: Path) -> tuple[int, str]:
    conn = sqlite3.connect(db, timeout=10)
    acked = conn.execute("SELECT value FROM meta WHERE key = 'outbox.acked_through'").fetchone()[0]
    epoch = conn.execute("SELECT value FROM meta WHERE key = 'stream_epoch'").fetchone()[0]
    conn.close()
    return int(acked), str(epoch)


@pytest.mark.slow
def test_station_killed_at_random_points_20_times(tmp_path: Path) -> None:
    broker = Broker(tmp_path / "mq").start()
    hub = HubThread(broker.port, tmp_path / "hub.db").start()
    db, cmds = tmp_path / "station.db", tmp_path / "cmds.db"
    target = 3000
    rng = random.Random(20260205)
    args = [sys.executable, str(HERE / "sync_station_child.py"), str(db), str(cmds), str(broker.port), str(target)]
    kills = 0
    with running(broker, hub):
        for _ in range(20):
            child = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, cwd=REPO)
            assert child.stdout is not None
            assert child.stdout.readline().strip() == b"ready"
            time.sleep(rng.uniform(0.05, 0.5))
            child.kill()
            child.wait(10)
            child.stdout.close()
            kills += 1
            # Done on the station never runs ahead of what the hub committed, whatever the moment of death.
            acked, epoch = _station_done(db)
            assert acked <= _hub_acked(tmp_path / "hub.db", epoch)
        child = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, cwd=REPO)
        try:
            assert child.stdout is not None
            assert child.stdout.readline().strip() == b"ready"
            store = open_store(db)
            wait_until(lambda: store.last_seq() >= target, 30, "producer reached its target")
            wait_until(hub_has_all(tmp_path / "hub.db", store, target), 30, "delivery after 20 kills")
            wait_until(lambda: store.backlog() == 0, 10, "station saw the final acks")
            print(f"station killed {kills} times")
            assert_clean(counting_report("station_sigkill_x20", store, tmp_path / "hub.db", hub.released))
            store.close()
        finally:
            child.kill()
            child.wait(10)
            if child.stdout is not None:
                child.stdout.close()


def test_hub_killed_after_commit_before_ack(tmp_path: Path, store: Store) -> None:
    broker = Broker(tmp_path / "mq").start()
    hub_db = tmp_path / "hub.db"
    crashing = HubProcess(broker.port, hub_db, "hub-a", "--fault-exit-after-commit", "1").start()
    append_events(store, 3000)
    agent = AgentThread(sync_settings(broker.port, batch_max_events=100), store, MemoryCommands()).start()
    with running(broker, crashing, agent):
        assert crashing.proc is not None
        assert crashing.proc.wait(20) == 137, "the hub died on its fault knob"
        crashing.kill()  # reaps and closes its pipe
        committed = _hub_acked(hub_db, store.stream_epoch)
        assert committed > 0
        assert agent.health()["acked_through"] < committed, "the station never saw the ack of the last commit"
        second = HubProcess(broker.port, hub_db, "hub-b").start()
        with running(second):
            wait_until(hub_has_all(hub_db, store), 30, "delivery through the restarted hub")
            wait_until(lambda: store.backlog() == 0, 10, "acks reached the station")
        conn = sqlite3.connect(hub_db)
        (dups,) = conn.execute("SELECT duplicates FROM hub_streams").fetchone()
        conn.close()
        assert dups > 0, "the committed-but-unacked events came again and were deduplicated"
        assert_clean(counting_report("hub_sigkill_after_commit_before_ack", store, hub_db))


def test_acks_lost_one_way(tmp_path: Path, store: Store) -> None:
    broker = Broker(tmp_path / "mq").start()
    hub = HubThread(broker.port, tmp_path / "hub.db", faults=HubFaults(drop_ack_every=2)).start()
    agent = AgentThread(sync_settings(broker.port, batch_max_events=50), store, MemoryCommands()).start()
    producer = Producer(store, 1000).start()
    with running(broker, hub, agent, producer):
        producer.join()
        wait_until(hub_has_all(tmp_path / "hub.db", store), 30, "delivery")
        wait_until(lambda: store.backlog() == 0, 15, "a later ack covers the lost ones")
        assert hub.consumer is not None
        assert hub.consumer.stats.acks_dropped > 0
        assert_clean(counting_report("acks_lost_every_second", store, tmp_path / "hub.db", hub.released))


def test_duplicate_and_out_of_order_acks(tmp_path: Path, store: Store) -> None:
    broker = Broker(tmp_path / "mq").start()
    listener, replayer = Probe(broker.port, "ack-listener"), Probe(broker.port, "ack-replayer")
    listener.subscribe(f"{P}/ack")
    hub = HubThread(broker.port, tmp_path / "hub.db").start()
    agent = AgentThread(sync_settings(broker.port, batch_max_events=40), store, MemoryCommands()).start()
    producer = Producer(store, 1500).start()
    stop = threading.Event()

    def replay() -> None:
        rng = random.Random(7)
        seen: list[bytes] = []
        while not stop.is_set():
            for _, payload, _ in list(listener.messages):
                if payload not in seen:
                    seen.append(payload)
            if seen:
                for payload in rng.sample(seen, min(3, len(seen))):  # old acks again, in random order
                    replayer.publish(f"{P}/ack", payload)
            time.sleep(0.01)

    thread = threading.Thread(target=replay, daemon=True)
    thread.start()
    with running(broker, listener, replayer, hub, agent, producer):
        producer.join()
        wait_until(hub_has_all(tmp_path / "hub.db", store), 30, "delivery")
        wait_until(lambda: store.backlog() == 0, 10, "acks reached the station")
        stop.set()
        thread.join(5)
        c = agent.health()["counters"]
        print(f"acks {c['acks']}, duplicate {c['duplicate_acks']}, stale {c['stale_acks']}")
        assert c["stale_acks"] > 0
        assert c["duplicate_acks"] > 0
        assert_clean(counting_report("duplicate_and_reordered_acks", store, tmp_path / "hub.db", hub.released))


def test_malformed_messages_on_ack_and_cmd_topics(tmp_path: Path, store: Store) -> None:
    broker = Broker(tmp_path / "mq").start()
    probe = Probe(broker.port)
    probe.subscribe(f"{P}/cmd_ack")
    hub = HubThread(broker.port, tmp_path / "hub.db").start()
    agent = AgentThread(sync_settings(broker.port), store, MemoryCommands()).start()
    producer = Producer(store, 1000).start()
    garbage = [b"", b"\x00", b"null", b"[1]", b'{"acked_through": "all"}', b"{" * 5000,
               json.dumps({"cmd_id": 5, "cmd_seq": 1}).encode(), b'{"cmd_id": "x", "cmd_seq": -3}']  # fmt: skip
    with running(broker, probe, hub, agent, producer):
        sent = 0
        while producer.thread.is_alive():
            probe.publish(f"{P}/ack", garbage[sent % len(garbage)])
            probe.publish(f"{P}/cmd", garbage[(sent + 3) % len(garbage)])
            sent += 1
        wait_until(hub_has_all(tmp_path / "hub.db", store), 30, "delivery despite garbage")
        h = agent.health()
        assert sum(h["rejected"]["ack"].values()) > 0
        assert sum(h["rejected"]["cmd"].values()) > 0
        wait_until(lambda: len(probe.on(f"{P}/cmd_ack")) > 2, 5, "cmd_acks")
        assert all(a["applied_through"] == 0 for a in probe.on(f"{P}/cmd_ack"))
        assert any(a["rejected"] for a in probe.on(f"{P}/cmd_ack"))
        print(f"garbage messages sent: {2 * sent}; refused: {h['rejected']}")
        assert_clean(counting_report("malformed_ack_and_cmd", store, tmp_path / "hub.db", hub.released))


def test_two_hubs_share_the_stream_and_one_is_killed(tmp_path: Path, store: Store) -> None:
    broker = Broker(tmp_path / "mq").start()
    hub_db = tmp_path / "hub.db"
    doomed = HubProcess(broker.port, hub_db, "hub-a").start()
    survivor = HubThread(broker.port, hub_db, instance="hub-b").start()
    agent = AgentThread(sync_settings(broker.port, batch_max_events=20), store, MemoryCommands()).start()
    producer = Producer(store, 3000, per_tx=10, pause_s=0.004).start()
    with running(broker, doomed, survivor, agent, producer):
        assert survivor.consumer is not None
        wait_until(lambda: _hub_acked(hub_db, store.stream_epoch) > 800, 20, "both hubs ingesting")
        conn = sqlite3.connect(hub_db, timeout=10)
        (stored_total,) = conn.execute("SELECT count(*) FROM hub_events").fetchone()
        conn.close()
        by_survivor = survivor.consumer.stats.stored
        assert 0 < by_survivor < stored_total, "each instance stored part of the stream"
        doomed.kill()
        producer.join()
        wait_until(hub_has_all(hub_db, store), 30, "delivery through the surviving hub")
        print(f"before the kill: {stored_total} stored, {by_survivor} by the survivor")
        assert_clean(counting_report("two_hubs_one_sigkilled", store, hub_db))


@pytest.mark.slow
def test_half_open_connection_is_detected(tmp_path: Path, store: Store) -> None:
    broker = Broker(tmp_path / "mq").start()
    proxy = TcpProxy(broker.port)
    hub = HubThread(broker.port, tmp_path / "hub.db").start()
    settings = sync_settings(proxy.port, keepalive_s=2, connect_timeout_s=2, ack_timeout_s=3)
    agent = AgentThread(settings, store, MemoryCommands()).start()
    producer = Producer(store, 1500, pause_s=0.01).start()
    with running(broker, proxy, hub, agent, producer):
        wait_until(lambda: agent.health()["acked_through"] > 50, 10, "stream flowing")
        proxy.blackhole()
        acked = agent.health()["acked_through"]
        time.sleep(5)
        assert agent.health()["acked_through"] <= acked + 60, "nothing got through the black hole"
        proxy.restore()
        producer.join()
        wait_until(hub_has_all(tmp_path / "hub.db", store), 30, "delivery after the partition")
        h = agent.health()
        assert h["link_restarts"] >= 1
        assert proxy.connections >= 2
        assert_clean(counting_report("half_open_tcp_partition", store, tmp_path / "hub.db", hub.released))
