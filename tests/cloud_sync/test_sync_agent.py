"""The agent against a real Mosquitto and the hub kit: delivery, presence, health, commands with the real
station intake, credentials and TLS, refusals, the broker's limits, and the watchdog."""

import json
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest
from sync_harness import (
    SITE,
    STATION,
    AgentThread,
    Broker,
    HubThread,
    MemoryCommands,
    Probe,
    StationCommands,
    append_events,
    assert_clean,
    counting_report,
    hub_has_all,
    open_store,
    running,
    sync_settings,
    wait_until,
)

from cloud_sync.doctor import check_broker, outbox_summary
from cloud_sync.link import MqttLink
from station.store import Store

P = f"wh/v1/{SITE}/{STATION}"
ORDER: dict[str, Any] = {
    "order_id": "SO20260205-8821", "version": 3, "carrier": "SF", "waybill_no": "SF1234567890123",
    "lines": [{"line_no": 1, "sku": "FEEDER-PRO", "name": "智能喂食器 Pro", "barcodes": ["6901234567892"], "qty": 1}],
}  # fmt: skip


@pytest.fixture
def store(tmp_path: Path):  # type: ignore[no-untyped-def]
    s = open_store(tmp_path / "station.db")
    yield s
    s.close()


@pytest.fixture
def broker(tmp_path: Path):  # type: ignore[no-untyped-def]
    b = Broker(tmp_path / "mq").start()
    yield b
    b.stop()


def test_delivery_presence_and_health(tmp_path: Path, store: Store, broker: Broker) -> None:
    append_events(store, 600)
    probe = Probe(broker.port)
    probe.subscribe(f"{P}/status")
    hub = HubThread(broker.port, tmp_path / "hub.db").start()
    agent = AgentThread(sync_settings(broker.port), store, MemoryCommands()).start()
    with running(probe, hub, agent):
        wait_until(hub_has_all(tmp_path / "hub.db", store), 20, "delivery")
        append_events(store, 3, per_tx=1)
        wait_until(lambda: store.backlog() == 0, 20, "backlog drained")
        h = agent.health()
        assert h["broker_connected"] is True
        assert h["hub_online"] is True
        assert (h["backlog"], h["oldest_unacked_age_s"], h["acked_through"]) == (0, None, 603)
        assert h["last_ack_age_s"] is not None
        assert h["last_ack_age_s"] < 10
        assert h["counters"]["messages"] < 603, "batched while behind"
        birth = probe.on(f"{P}/status")[0]
        assert birth["state"] == "online"
        assert birth["boot_id"] == store.boot_id
        assert birth["versions"]["contract"] == "wh/v1"
        assert birth["stream_epoch"] == store.stream_epoch
        agent.stop()
        wait_until(lambda: probe.on(f"{P}/status")[-1]["state"] == "offline", 5, "goodbye")
        assert probe.on(f"{P}/status")[-1]["reason"] == "shutdown"
        assert_clean(counting_report("plain_delivery", store, tmp_path / "hub.db", hub.released))


def test_backlog_ages_while_broker_is_down(tmp_path: Path, store: Store) -> None:
    broker = Broker(tmp_path / "mq")  # configured but not running
    append_events(store, 10)
    agent = AgentThread(sync_settings(broker.port), store, MemoryCommands()).start()
    with running(agent):
        time.sleep(0.5)
        h = agent.health()
        assert h["broker_connected"] is False
        assert h["backlog"] == 10
        assert h["state"] in ("connecting", "backoff")
        assert "connect" in (h["last_error"] or "")
        assert h["oldest_unacked_age_s"] is not None
        assert h["link_restarts"] >= 1


def test_sync_off_without_broker(tmp_path: Path, store: Store) -> None:
    append_events(store, 10)
    agent = AgentThread(sync_settings(1, broker=None), store, MemoryCommands()).start()
    with running(agent):
        time.sleep(0.2)
        h = agent.health()
        assert (h["enabled"], h["state"], h["broker"], h["backlog"]) == (False, "disabled", None, 10)


def test_offline_hub_pauses_like_a_down_broker(tmp_path: Path, store: Store, broker: Broker) -> None:
    probe = Probe(broker.port)
    probe.publish(f"wh/v1/{SITE}/hub/state", json.dumps({"state": "offline"}), retain=True)
    append_events(store, 50)
    agent = AgentThread(sync_settings(broker.port), store, MemoryCommands()).start()
    probe.subscribe(f"{P}/evt")
    with running(probe, agent):
        wait_until(lambda: agent.health()["hub_online"] is False, 5, "hub state seen")
        time.sleep(0.5)
        assert probe.on(f"{P}/evt") == []
        assert agent.health()["publishing"] is False
        hub = HubThread(broker.port, tmp_path / "hub.db").start()
        with running(hub):
            wait_until(hub_has_all(tmp_path / "hub.db", store), 20, "delivery after hub online")
            assert_clean(counting_report("hub_offline_then_online", store, tmp_path / "hub.db", hub.released))


def test_commands_through_the_station_intake(tmp_path: Path, store: Store, broker: Broker) -> None:
    probe = Probe(broker.port)
    probe.subscribe(f"{P}/cmd_ack")
    hub = HubThread(broker.port, tmp_path / "hub.db").start()
    commands = StationCommands(store)
    agent = AgentThread(sync_settings(broker.port), store, commands).start()
    with running(probe, hub, agent):
        assert hub.consumer is not None
        assert hub.store is not None
        # A cancellation that arrives before its order wins; a hold of an unknown order is refused.
        hub.consumer.send_command(SITE, STATION, "order.cancel", {"order_id": "SO20260205-8821", "reason": "app"})
        hub.consumer.send_command(SITE, STATION, "order.upsert", ORDER)
        hub.consumer.send_command(SITE, STATION, "order.hold", {"order_id": "NOPE", "reason": "check"})
        hub.consumer.send_command(SITE, STATION, "priority.set", {"order_id": "SO20260205-8821", "level": "S"})
        wait_until(lambda: agent.health()["cmd_applied_through"] == 4, 10, "commands applied")
        with store.reading() as repo:
            order = repo.order("SO20260205-8821")
        assert order is not None
        assert order.status == "cancelled"
        hub_store = hub.store

        def hub_states() -> list[tuple[int, str, str | None]]:
            return [(c["cmd_seq"], c["state"], c["reason"]) for c in hub_store.commands(SITE, STATION)]

        wait_until(lambda: hub_states()[-1][1] != "pending", 10, "hub saw the cmd_acks")
        assert hub_states() == [(1, "applied", None), (2, "applied", None), (3, "rejected", "unknown_order"),
                                (4, "applied", None)]  # fmt: skip
        assert [c.type for c in commands.other] == ["priority.set"]
        # Garbage on the cmd topic: refused on cmd_ack with a reason, the agent carries on.
        probe.publish(f"{P}/cmd", b"{not json")
        hub.consumer.send_command(SITE, STATION, "order.explode", {"order_id": "SO1"})

        def reasons() -> list[str]:
            return [r["reason"] for a in probe.on(f"{P}/cmd_ack") for r in a["rejected"]]

        wait_until(lambda: {"malformed_json", "unknown_type"} <= set(reasons()), 5, "refusals on cmd_ack")
        assert agent.health()["cmd_applied_through"] == 5
        hub.consumer.send_command(SITE, STATION, "order.release", {"order_id": "SO20260205-8821"})
        wait_until(lambda: agent.health()["cmd_applied_through"] == 6, 10, "agent still applies commands")
        wait_until(lambda: hub_states()[-1][1] != "pending", 10, "hub saw the last cmd_ack")
        assert hub_states()[4:] == [(5, "rejected", "unknown_type"), (6, "rejected", "order_cancelled")]


def test_malformed_acks_and_hub_state_are_counted_not_fatal(tmp_path: Path, store: Store, broker: Broker) -> None:
    append_events(store, 20)
    probe = Probe(broker.port)
    agent = AgentThread(sync_settings(broker.port), store, MemoryCommands()).start()
    with running(probe, agent):
        wait_until(lambda: agent.health()["broker_connected"], 5, "connected")
        for bad in (b"", b"\x00\xff", b"[]", b'{"stream_epoch": 1}', b'{"acked_through": 3}',
                    json.dumps({"stream_epoch": store.stream_epoch, "acked_through": True}).encode(),
                    json.dumps({"stream_epoch": store.stream_epoch, "acked_through": 1, "missing": [[3, 1]]}).encode(),
                    json.dumps({"stream_epoch": "other", "acked_through": 5}).encode(),
                    json.dumps({"stream_epoch": store.stream_epoch, "acked_through": 21}).encode(),
                    b"x" * 70_000):  # fmt: skip
            probe.publish(f"{P}/ack", bad)
        probe.publish(f"wh/v1/{SITE}/hub/state", b"maybe")
        wait_until(lambda: sum(agent.health()["rejected"]["ack"].values()) == 10, 5, "acks refused")
        # The hub state went out last, on another topic: it may still be on its way when the acks are counted.
        wait_until(lambda: agent.health()["rejected"]["hub_state"] != {}, 5, "hub state refused")
        h = agent.health()
        assert h["rejected"]["ack"] == {"malformed_json": 2, "not_an_object": 1, "invalid_field": 4,
                                        "wrong_stream_epoch": 1, "acked_beyond_head": 1, "oversized": 1}  # fmt: skip
        assert h["rejected"]["hub_state"] == {"malformed_json": 1}
        assert store.backlog() == 20, "nothing was marked done by a refused ack"
        hub = HubThread(broker.port, tmp_path / "hub.db").start()
        with running(hub):
            wait_until(hub_has_all(tmp_path / "hub.db", store), 20, "delivery")
            assert_clean(counting_report("after_malformed_acks", store, tmp_path / "hub.db", hub.released))


def test_receive_maximum_bounds_the_window(tmp_path: Path, store: Store) -> None:
    broker = Broker(tmp_path / "mq", extra="max_inflight_messages 3").start()
    append_events(store, 3000)
    hub = HubThread(broker.port, tmp_path / "hub.db").start()
    agent = AgentThread(sync_settings(broker.port, batch_max_events=20, max_inflight=50), store, MemoryCommands())
    with running(broker, hub, agent.start()):
        wait_until(hub_has_all(tmp_path / "hub.db", store), 30, "delivery")
        h = agent.health()
        assert h["window"] == 3
        assert 1 <= h["counters"]["max_inflight_seen"] <= 3
        assert_clean(counting_report("receive_maximum_3", store, tmp_path / "hub.db", hub.released))


def test_acl_refusal_is_not_success(tmp_path: Path, store: Store) -> None:
    acl = tmp_path / "acl"
    base = ("topic read #\ntopic write wh/v1/+/+/status\ntopic write wh/v1/+/+/cmd_ack\n"
            "topic write wh/v1/+/+/ack\ntopic write wh/v1/+/hub/state\n")  # fmt: skip
    acl.write_text(base)
    broker = Broker(tmp_path / "mq", extra=f"acl_file {acl}").start()
    append_events(store, 100)
    hub = HubThread(broker.port, tmp_path / "hub.db").start()
    agent = AgentThread(sync_settings(broker.port), store, MemoryCommands()).start()
    with running(broker, hub, agent):
        wait_until(lambda: agent.health()["rejected"]["puback"] >= 2, 10, "PUBACK 0x87")
        assert store.backlog() == 100
        acl.write_text(base + "topic write wh/v1/+/+/evt\n")
        broker.hup()
        wait_until(hub_has_all(tmp_path / "hub.db", store), 30, "delivery once allowed")
        assert_clean(counting_report("acl_denied_then_allowed", store, tmp_path / "hub.db", hub.released))


def test_password_authentication(tmp_path: Path, store: Store) -> None:
    pwfile = tmp_path / "passwd"
    pwfile.write_text("")
    subprocess.run(["mosquitto_passwd", "-b", str(pwfile), "WH1-ST01", "s3cret"], check=True)
    subprocess.run(["mosquitto_passwd", "-b", str(pwfile), "hub", "hubpw"], check=True)
    broker = Broker(tmp_path / "mq", extra=f"password_file {pwfile}")
    broker.start()
    broker.conf.write_text(broker.conf.read_text().replace("allow_anonymous true", "allow_anonymous false"))
    broker.stop()
    broker.write_conf = lambda: None  # type: ignore[method-assign]  # keep the edited config
    broker.start()
    append_events(store, 10)
    wrong = AgentThread(sync_settings(broker.port, username="WH1-ST01", password="nope"), store, MemoryCommands())
    with running(broker, wrong.start()):
        wait_until(lambda: "CONNACK refused" in (wrong.health()["last_error"] or ""), 5, "refused")
        wrong.stop()
        agent = AgentThread(sync_settings(broker.port, username="WH1-ST01", password="s3cret"), store,
                            MemoryCommands()).start()  # fmt: skip
        with running(agent):
            wait_until(lambda: agent.health()["broker_connected"], 5, "connected with the right password")


def _openssl(*args: str) -> None:
    subprocess.run(["openssl", *args], check=True, capture_output=True)


def _make_pki(d: Path) -> None:
    _openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=test-ca",
             "-keyout", str(d / "ca.key"), "-out", str(d / "ca.pem"))  # fmt: skip
    ext = d / "ext.cnf"
    ext.write_text("subjectAltName=IP:127.0.0.1\n")
    for name, cn in (("server", "127.0.0.1"), ("client", "WH1-ST01")):
        _openssl("req", "-newkey", "rsa:2048", "-nodes", "-subj", f"/CN={cn}", "-keyout", str(d / f"{name}.key"),
                 "-out", str(d / f"{name}.csr"))  # fmt: skip
        _openssl("x509", "-req", "-in", str(d / f"{name}.csr"), "-CA", str(d / "ca.pem"), "-CAkey", str(d / "ca.key"),
                 "-CAcreateserial", "-days", "2", "-out", str(d / f"{name}.pem"), "-extfile", str(ext))  # fmt: skip


def test_tls_with_client_certificate(tmp_path: Path, store: Store) -> None:
    pki = tmp_path / "pki"
    pki.mkdir()
    _make_pki(pki)
    tls_port = Broker(tmp_path / "unused").port
    extra = (f"listener {tls_port} 127.0.0.1\ncafile {pki / 'ca.pem'}\ncertfile {pki / 'server.pem'}\n"
             f"keyfile {pki / 'server.key'}\nrequire_certificate true\nuse_identity_as_username true\n")  # fmt: skip
    broker = Broker(tmp_path / "mq", extra=extra).start()
    append_events(store, 40)
    hub = HubThread(broker.port, tmp_path / "hub.db").start()  # the hub uses the plain listener
    good = sync_settings(tls_port, tls=True, ca_file=pki / "ca.pem", cert_file=pki / "client.pem",
                         key_file=pki / "client.key")  # fmt: skip
    agent = AgentThread(good, store, MemoryCommands()).start()
    with running(broker, hub, agent):
        wait_until(hub_has_all(tmp_path / "hub.db", store), 20, "delivery over TLS")
        agent.stop()
        # A broker certificate we do not trust: no connection, and the reason is visible.
        untrusted = sync_settings(tls_port, tls=True, ca_file=pki / "client.pem", cert_file=pki / "client.pem",
                                  key_file=pki / "client.key")  # fmt: skip
        bad = AgentThread(untrusted, store, MemoryCommands()).start()
        with running(bad):
            wait_until(lambda: "certificate" in (bad.health()["last_error"] or "").lower(), 5, "TLS refusal")
            assert bad.health()["broker_connected"] is False


def test_unreadable_tls_files_are_a_setup_error(tmp_path: Path, store: Store) -> None:
    settings = sync_settings(8883, tls=True, ca_file=tmp_path / "missing.pem")
    agent = AgentThread(settings, store, MemoryCommands()).start()
    with running(agent):
        wait_until(lambda: "TLS setup failed" in (agent.health()["last_error"] or ""), 5, "setup error")


def test_a_raising_callback_loses_pubacks_not_events(
    tmp_path: Path, store: Store, broker: Broker, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls = {"n": 0}
    original = MqttLink._handle_publish

    def flaky(self: MqttLink, mid: int, reason_code: Any) -> Any:
        calls["n"] += 1
        if calls["n"] % 4 == 0:
            raise RuntimeError("callback bug (test)")
        return original(self, mid, reason_code)

    monkeypatch.setattr(MqttLink, "_handle_publish", flaky)
    append_events(store, 1000)
    hub = HubThread(broker.port, tmp_path / "hub.db").start()
    settings = sync_settings(broker.port, batch_max_events=25, max_inflight=4, ack_timeout_s=0.5)
    agent = AgentThread(settings, store, MemoryCommands())
    with running(hub, agent.start()):
        wait_until(hub_has_all(tmp_path / "hub.db", store), 60, "delivery despite callback errors")
        assert agent.health()["callback_errors"] > 0
        assert_clean(counting_report("raising_callback", store, tmp_path / "hub.db", hub.released))


# The dying thread is the point of this test: pytest would otherwise report its exception as an error.
@pytest.mark.filterwarnings("ignore::pytest.PytestUnhandledThreadExceptionWarning")
def test_watchdog_restarts_a_dead_network_thread(tmp_path: Path, store: Store, broker: Broker) -> None:
    hub = HubThread(broker.port, tmp_path / "hub.db").start()
    agent = AgentThread(sync_settings(broker.port), store, MemoryCommands()).start()
    with running(hub, agent):
        wait_until(lambda: agent.health()["publishing"], 5, "publishing")

        def boom(*_: Any) -> None:
            raise RuntimeError("escapes into paho (test)")

        link = agent.agent._link
        assert link is not None
        link.client.on_message = boom  # bypasses our wrapper: paho's thread dies on the next message
        append_events(store, 50)
        wait_until(lambda: agent.health()["watchdog_restarts"] >= 1, 10, "watchdog restart")
        append_events(store, 50)
        wait_until(hub_has_all(tmp_path / "hub.db", store), 20, "delivery after the restart")
        assert_clean(counting_report("network_thread_died", store, tmp_path / "hub.db", hub.released))


def test_outbound_mapping_travels_beside_the_hashed_data(tmp_path: Path, store: Store, broker: Broker) -> None:
    mapping = {"outbound": {"status": {"pending": "1", "packing": "2"}, "fields": {"order_id": "erp_no"}}}
    append_events(store, 5)
    hub = HubThread(broker.port, tmp_path / "hub.db").start()
    agent = AgentThread(sync_settings(broker.port, mapping=mapping), store, MemoryCommands()).start()
    with running(hub, agent):
        wait_until(hub_has_all(tmp_path / "hub.db", store), 20, "delivery")
        assert hub.store is not None
        (info,) = hub.store.streams()
        assert info.chain_ok
        stored = hub.store.events(info.key, 1, 10)
        assert all("mapped" in e for e in stored)
        assert stored[0]["mapped"]["n"] == stored[0]["data"]["n"]


def test_doctor_checks_the_broker_without_disturbing_the_agent(tmp_path: Path, store: Store, broker: Broker) -> None:
    append_events(store, 5)
    hub = HubThread(broker.port, tmp_path / "hub.db").start()
    agent = AgentThread(sync_settings(broker.port), store, MemoryCommands()).start()
    with running(hub, agent):
        wait_until(lambda: store.backlog() == 0, 10, "delivery")
        report = check_broker(sync_settings(broker.port), site=SITE, station_id=STATION, timeout_s=3)
        assert report["reachable"] is True
        assert report["error"] is None
        assert report["hub_state"] == "online"
        assert report["station_status"]["state"] == "online"
        assert report["receive_maximum"] == 20
        assert agent.health()["link_restarts"] == 0, "the doctor's own client id took nothing over"
    down = check_broker(sync_settings(Broker(tmp_path / "none").port), site=SITE, station_id=STATION, timeout_s=1)
    assert down["reachable"] is False
    assert "connect" in down["error"]
    off = check_broker(sync_settings(1, broker=None), site=SITE, station_id=STATION)
    assert (off["enabled"], off["reachable"]) == (False, False)
    append_events(store, 3)
    summary = outbox_summary(store)
    assert (summary["backlog"], summary["last_seq"]) == (3, 8)
    assert summary["oldest_unacked_age_s"] is not None
