"""The broker ACL of `cloud_sync.acl`, in a real Mosquitto with logins: a station speaks only on its own topics
and only the hub's user can command it — a rogue client's command never reaches the station."""

import json
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest
from sync_harness import SITE, STATION, AgentThread, Broker, MemoryCommands, append_events, open_store, wait_until
from sync_harness import sync_settings as station_sync_settings

from cloud_sync.acl import site_acl, station_acl
from cloud_sync.hub import HubConfig, HubConsumer, HubStore

PASSWORDS = {"hub": "hub-secret", STATION: "st01-secret", "ST02": "st02-secret"}
PREFIX = f"wh/v1/{SITE}/{STATION}"


@pytest.fixture
def broker(tmp_path: Path) -> Iterator[Broker]:
    directory = tmp_path / "broker"
    directory.mkdir()
    passwords = directory / "passwords"
    for i, (user, password) in enumerate(PASSWORDS.items()):
        flags = ["-b", "-c"] if i == 0 else ["-b"]
        subprocess.run(["mosquitto_passwd", *flags, str(passwords), user, password], check=True)
    acl = directory / "acl"
    acl.write_text(site_acl(SITE, [STATION, "ST02"]))
    extra = f"allow_anonymous false\npassword_file {passwords}\nacl_file {acl}"
    started = Broker(directory, extra=extra).start()
    yield started
    started.stop()


def _client(broker: Broker, user: str | None, name: str) -> tuple[mqtt.Client, list[mqtt.MQTTMessage], list[int]]:
    client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=name, protocol=mqtt.MQTTv5)
    if user is not None:
        client.username_pw_set(user, PASSWORDS[user])
    received: list[mqtt.MQTTMessage] = []
    connected: list[int] = []
    client.on_message = lambda _c, _u, message: received.append(message)
    client.on_connect = lambda _c, _u, _f, reason, _p: connected.append(reason.value)
    client.connect("127.0.0.1", broker.port)
    client.loop_start()
    wait_until(lambda: bool(connected), 5, f"{name} connected or refused")
    return client, received, connected


def test_the_acl_a_station_gets_names_only_its_own_topics() -> None:
    block = station_acl(SITE, STATION)
    assert f"topic read {PREFIX}/cmd" in block
    writes = [line.split()[-1] for line in block.splitlines() if line.startswith("topic write")]
    assert writes == [f"{PREFIX}/evt", f"{PREFIX}/cmd_ack", f"{PREFIX}/status"]  # never a command, never an ack
    with pytest.raises(ValueError, match="station"):
        station_acl(SITE, "ST01/#")


def test_anonymous_clients_are_refused(broker: Broker) -> None:
    client, _, connected = _client(broker, None, "anonymous")
    assert connected[0] != 0  # not authorised
    client.loop_stop()


def test_only_the_hubs_commands_reach_the_station(broker: Broker) -> None:
    station, to_station, _ = _client(broker, STATION, "st01")
    subscribed = threading.Event()
    station.on_subscribe = lambda _c, _u, _m, _codes, _p: subscribed.set()
    station.subscribe([(f"{PREFIX}/cmd", 1), (f"wh/v1/{SITE}/ST02/cmd", 1)])  # its own, and another station's
    wait_until(subscribed.is_set, 5, "the subscriptions answered")
    rogue, _, _ = _client(broker, "ST02", "st02")
    hub, _, _ = _client(broker, "hub", "hub")
    command = json.dumps({"cmd_id": "c1", "cmd_seq": 1, "type": "order.cancel", "data": {"order_id": "SO1"}})
    rogue.publish(f"{PREFIX}/cmd", command, qos=1).wait_for_publish(5)  # dropped by the broker
    station.publish(f"{PREFIX}/cmd", command, qos=1).wait_for_publish(5)  # a station cannot command itself
    hub.publish(f"wh/v1/{SITE}/ST02/cmd", command.replace("c1", "for-st02"), qos=1).wait_for_publish(5)  # not st01's
    hub.publish(f"{PREFIX}/cmd", command.replace("c1", "c2"), qos=1).wait_for_publish(5)
    wait_until(lambda: len(to_station) >= 1, 5, "the hub's command")
    hub.publish(f"{PREFIX}/cmd", command.replace("c1", "c3"), qos=1).wait_for_publish(5)
    wait_until(lambda: len(to_station) >= 2, 5, "the hub's second command")
    assert [json.loads(m.payload)["cmd_id"] for m in to_station] == ["c2", "c3"]
    for client in (station, rogue, hub):
        client.loop_stop()
        client.disconnect()


def test_a_station_with_its_login_syncs_and_takes_the_hubs_commands(broker: Broker, tmp_path: Path) -> None:
    store = open_store(tmp_path / "station.db")
    append_events(store, 50)
    commands = MemoryCommands()
    settings = station_sync_settings(broker.port, username=STATION, password=PASSWORDS[STATION])
    agent = AgentThread(settings, store, commands).start()
    hub_store = HubStore.open(tmp_path / "hub.db")
    config = HubConfig(broker="127.0.0.1", port=broker.port, sites=[SITE], instance="hub-1", keepalive_s=5,
                       username="hub", password=PASSWORDS["hub"], command_resend_s=1.0)  # fmt: skip
    consumer = HubConsumer(hub_store, config)
    consumer.start()
    try:
        wait_until(lambda: store.backlog() == 0, 30, "every event acked by the hub through the ACL")
        consumer.send_command(SITE, STATION, "order.cancel", {"order_id": "SO1", "reason": "acl test"})
        wait_until(lambda: commands.cmd_applied_through() == 1, 20, "the hub's command applied")
        rogue, _, _ = _client(broker, "ST02", "rogue")
        forged = {"cmd_id": "evil", "cmd_seq": 2, "type": "order.cancel", "data": {"order_id": "SO2"}}
        rogue.publish(f"{PREFIX}/cmd", json.dumps(forged), qos=1).wait_for_publish(5)
        consumer.send_command(SITE, STATION, "order.cancel", {"order_id": "SO3", "reason": "acl test"})
        wait_until(lambda: commands.cmd_applied_through() == 2, 20, "the hub's next command applied")
        assert [c.data["order_id"] for c in commands.applied] == ["SO1", "SO3"]  # never the rogue's SO2
        rogue.loop_stop()
    finally:
        consumer.stop()
        hub_store.close()
        agent.stop()
        store.close()
