"""Benchmark: drain a 100,000-event backlog to a local Mosquitto with the hub kit acking, against a bare paho
QoS 1 publish loop on the same broker in the same run.

The drain is timed from the agent's start until the station has the hub's ack for the last event: the real
station Store as outbox, the real agent on an asyncio loop, the reference hub consumer in its own process
committing to SQLite (synchronous=FULL) before each ack. The bare loop publishes the same number of messages
of one event's size as fast as paho and the broker take them (QoS 1, all PUBACKs received); it runs before
and after the drains and the mean is used. The budget (BENCHMARKS.md, "Budgets"): drain rate >= 0.8 x the bare rate.
The drain batches (up to 250 events per message, as the agent does when behind); a second drain with one
event per message is reported beside it, to show the agent's own per-message cost.

    .venv/bin/python tests/perf/bench_sync_drain.py [--events 100000] [--dir station-data/perf-sync]
"""

import argparse
import asyncio
import getpass
import json
import os
import platform
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion, MQTTProtocolVersion

from cloud_sync.agent import SyncAgent
from cloud_sync.link import release_client_sockets
from cloud_sync.ports import Command, CommandOutcome, CommandRecord
from cloud_sync.settings import SyncSettings
from station.events import Actor, NewEvent
from station.store import Store

REPO = Path(__file__).resolve().parents[2]
SITE, STATION = "WH1", "ST01"


class NoCommands:
    """The drain does not involve commands."""

    def apply_command(self, cmd: Command) -> CommandOutcome:
        return CommandOutcome(False, "not_in_benchmark")

    def cmd_applied_through(self) -> int:
        return 0

    def cmd_record(self, cmd_id: str) -> CommandRecord | None:
        return None

    def record_cmd(self, cmd_id: str, cmd_seq: int, outcome: CommandOutcome) -> None:
        return None


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_broker(directory: Path) -> tuple[subprocess.Popen[bytes], int]:
    port = free_port()
    conf = directory / "mosquitto.conf"
    conf.write_text(f"listener {port} 127.0.0.1\nallow_anonymous true\nuser {getpass.getuser()}\npersistence false\n")
    proc = subprocess.Popen(["mosquitto", "-c", str(conf)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
        except OSError:
            time.sleep(0.05)
        else:
            return proc, port
    raise RuntimeError("mosquitto did not start")


def fill_store(path: Path, events: int) -> tuple[Store, int]:
    store = Store.open(path)
    actor = Actor(role="packer", id="OP-001", device="scanner-1", bench="B01")
    left = events
    while left:
        k = min(2000, left)
        with store.transaction() as tx:
            for i in range(k):
                tx.append(NewEvent("item.verified", actor, f"SO-{i % 997}", {"line_no": 1, "qty": 1, "sku": "SKU-1"}))
        left -= k
    size = len(json.dumps(store.events_from(1, 1)[0], separators=(",", ":")).encode())
    return store, size


def bare_publish(port: int, messages: int, size: int) -> float:
    """Messages per second of a plain paho QoS 1 publish loop, waiting for every PUBACK."""
    done = threading.Event()
    acked = [0]
    # paho's message ids wrap at 65,535 without checking which are still queued: keep the backlog inside paho
    # far below that (a few thousand is plenty to keep the broker's Receive Maximum window full).
    room = threading.Semaphore(5000)
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="bench-bare", protocol=MQTTProtocolVersion.MQTTv5)
    client.max_queued_messages_set(0)

    def on_publish(*_: Any) -> None:
        room.release()
        acked[0] += 1
        if acked[0] == messages:
            done.set()

    client.on_publish = on_publish
    client.connect("127.0.0.1", port)
    client.loop_start()
    payload = b"x" * size
    t0 = time.perf_counter()
    for _ in range(messages):
        room.acquire()
        client.publish("bench/bare", payload, qos=1)
    if not done.wait(300):
        raise RuntimeError("bare publish loop did not finish")
    elapsed = time.perf_counter() - t0
    client.disconnect()
    client.loop_stop()
    release_client_sockets(client)
    return messages / elapsed


def drain(store: Store, port: int, events: int, batch_max_events: int) -> tuple[float, dict[str, Any]]:
    settings = SyncSettings(broker="127.0.0.1", port=port, batch_max_events=batch_max_events)
    agent = SyncAgent(settings, store, NoCommands(), site=SITE, station_id=STATION, boot_id=store.boot_id)

    async def run() -> float:
        t0 = time.perf_counter()
        agent.start()
        while agent.uplink.acked_through < events:
            await asyncio.sleep(0.005)
        elapsed = time.perf_counter() - t0
        await agent.stop()
        return elapsed

    elapsed = asyncio.run(run())
    return events / elapsed, agent.health()["counters"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument("--dir", type=Path, default=REPO / "station-data" / "perf-sync")
    args = parser.parse_args()
    if args.dir.exists():
        shutil.rmtree(args.dir)
    args.dir.mkdir(parents=True)
    broker, port = start_broker(args.dir)
    hub: subprocess.Popen[bytes] | None = None
    try:
        t0 = time.perf_counter()
        store, size = fill_store(args.dir / "station.db", args.events)
        fill_s = time.perf_counter() - t0
        bare_before = bare_publish(port, args.events, size)
        env = {**os.environ, "PYTHONPATH": str(REPO)}
        hub = subprocess.Popen(
            [sys.executable, "-m", "cloud_sync.hub", "run", "--broker", f"127.0.0.1:{port}", "--db",
             str(args.dir / "hub.db"), "--site", SITE, "--log-level", "WARNING"],
            stdout=subprocess.PIPE, env=env, cwd=REPO,
        )  # fmt: skip
        assert hub.stdout is not None
        hub.stdout.readline()
        rate, counters = drain(store, port, args.events, 250)
        # The same drain with one event per message: the agent's cost per message, without batching's help.
        single_store, _ = fill_store(args.dir / "station-unbatched.db", args.events)
        single_rate, single_counters = drain(single_store, port, args.events, 1)
        single_store.close()
        bare_after = bare_publish(port, args.events, size)
        bare = (bare_before + bare_after) / 2
        print(
            json.dumps(
                {
                    "benchmark": "sync_drain",
                    "events": args.events,
                    "event_bytes": size,
                    "bare_paho_qos1_msgs_per_s": round(bare),
                    "bare_runs_msgs_per_s": [round(bare_before), round(bare_after)],
                    "sync_drain_events_per_s": round(rate),
                    "ratio": round(rate / bare, 3),
                    "target_ratio": 0.8,
                    "evt_messages": counters["messages"],
                    "resent_events": counters["resent_events"],
                    "unbatched_drain_events_per_s": round(single_rate),
                    "unbatched_ratio": round(single_rate / bare, 3),
                    "unbatched_evt_messages": single_counters["messages"],
                    "fill_s": round(fill_s, 1),
                    "machine": {"python": platform.python_version(), "cpu": platform.processor() or platform.machine(),
                                "cpus": os.cpu_count()},
                },
                indent=2,
            )
        )  # fmt: skip
        store.close()
    finally:
        if hub is not None:
            hub.send_signal(signal.SIGTERM)
            hub.wait(10)
            if hub.stdout is not None:
                hub.stdout.close()
        broker.terminate()
        broker.wait(10)


if __name__ == "__main__":
    main()
